//! whenready: wait until TCP ports, PostgreSQL, Redis and HTTP(S) endpoints are
//! ready, then replace this process with a command. See the library's `app` module.

fn main() {
    whenready::app::main()
}
