//! whenready: wait until the services a command depends on are ready, then replace
//! this process with that command. See the library's `app` module.

/// dlmalloc instead of musl's allocator: musl returns freed pages to the kernel at
/// once, so every attempt mapped and unmapped memory again; dlmalloc keeps what it
/// took (in 64 KB segments) for the next attempt. Fewer system calls and page faults
/// at start, and less CPU while waiting (README, Performance).
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() {
    whenready::app::main()
}
