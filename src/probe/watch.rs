//! The kernel's word that a local path may have appeared: an inotify watch on the
//! nearest existing directory on the way to a path, for `file://` and `unix://`
//! targets. When that directory reports a change to the next name on the way (the
//! file, the socket, or a directory that leads to them), the pause after a failed
//! attempt ends at once, instead of at the next poll.
//!
//! Polling stays on as the fallback, on the unchanged backoff: inotify only sees
//! changes made through this kernel. A file written by another machine on NFS, CIFS
//! or a FUSE file system, a change behind a symbolic link that points elsewhere, a
//! socket that exists but starts listening later (listen() makes no event), and a
//! system without inotify or out of watches (`fs.inotify.max_user_watches`) are all
//! seen at the next attempt of the backoff, as before.
//!
//! The watch is armed by each attempt before it looks at the path, so that a change
//! between the look and the watch cannot go unseen: it is either seen by the look or
//! queued for the pause that follows.

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;
use std::ffi::OsString;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// What the watched directory reports: a name created or moved in, removed or moved
/// out (what `--reverse` waits for), its attributes changed (permissions), or the
/// directory itself gone (the watch moves up).
const EVENTS: WatchFlags = WatchFlags::CREATE
    .union(WatchFlags::MOVED_TO)
    .union(WatchFlags::DELETE)
    .union(WatchFlags::MOVED_FROM)
    .union(WatchFlags::ATTRIB)
    .union(WatchFlags::DELETE_SELF)
    .union(WatchFlags::MOVE_SELF)
    .union(WatchFlags::ONLYDIR);

/// An inotify watch for one path; made idle, armed by the attempts.
#[derive(Debug)]
pub struct Watch {
    path: PathBuf,
    /// The inotify instance, made at the first arming; `None` inside when the
    /// system gives none (polling alone then).
    inotify: OnceLock<Option<Arc<OwnedFd>>>,
    /// The instance registered with the runtime, made by the first pause.
    events: OnceLock<Option<AsyncFd<Arc<OwnedFd>>>>,
    /// The watch descriptor now, and the name below it on the way to the path.
    current: Mutex<Option<(i32, OsString)>>,
}

impl Watch {
    /// A watch for `path`, not armed yet.
    pub fn new(path: PathBuf) -> Watch {
        Watch {
            path,
            inotify: OnceLock::new(),
            events: OnceLock::new(),
            current: Mutex::new(None),
        }
    }

    /// Points the watch at the nearest existing directory on the way to the path
    /// (its parent, once that exists). Looks paths up, so it runs where the
    /// attempt's own file system call runs, right before it.
    pub fn arm(&self) {
        let inotify = self.inotify.get_or_init(|| {
            inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)
                .ok()
                .map(Arc::new)
        });
        let Some(fd) = inotify else {
            return;
        };
        let mut below: &Path = &self.path;
        for dir in self.path.ancestors().skip(1) {
            match inotify::add_watch(fd, dir, EVENTS) {
                Ok(wd) => {
                    let name = below.file_name().map(OsString::from).unwrap_or_default();
                    let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some((old, _)) = current.replace((wd, name)) {
                        if old != wd {
                            // The directory on the way changed: only the nearest counts.
                            let _ = inotify::remove_watch(fd, old);
                        }
                    }
                    return;
                }
                // Not there (yet), or not a directory: one level up.
                Err(Errno::NOENT | Errno::NOTDIR) => below = dir,
                // No permission, out of watches: polling alone.
                Err(_) => return,
            }
        }
    }

    /// Resolves when the watched directory reported a change that may concern the
    /// path; never, when the watch is not armed or inotify is unavailable.
    pub async fn changed(&self) {
        let Some(fd) = self.inotify.get().and_then(Option::as_ref) else {
            return std::future::pending().await;
        };
        let events = self.events.get_or_init(|| {
            // Deprecated in tokio for types that may close or swap their descriptor
            // while registered (tokio#8587); an `Arc<OwnedFd>` does neither: the
            // registration holds its own reference, so the descriptor stays open
            // until the registration is gone. (`register_with_interest`, the
            // replacement, is `unsafe`, which this crate forbids.)
            #[allow(deprecated)]
            let registered = AsyncFd::with_interest(fd.clone(), Interest::READABLE);
            registered.ok()
        });
        let Some(events) = events else {
            return std::future::pending().await;
        };
        loop {
            let Ok(mut ready) = events.readable().await else {
                return std::future::pending().await;
            };
            let concerned = self.drain(fd);
            // Every queued event was read: wait for the kernel's next word.
            ready.clear_ready();
            if concerned {
                return;
            }
        }
    }

    /// Reads every queued event; whether one may concern the path.
    fn drain(&self, fd: &OwnedFd) -> bool {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
        let mut reader = inotify::Reader::new(fd, &mut buf);
        let mut concerned = false;
        loop {
            match reader.next() {
                Ok(event) => concerned |= concerns(&event, current.as_ref()),
                Err(Errno::INTR) => {}
                Err(_) => return concerned,
            }
        }
    }
}

/// Whether an event may concern the path: an overflowed queue may have lost one
/// that did; the watched directory itself changed (moved, removed, permissions:
/// the watch moves); or the name on the way appeared or changed.
fn concerns(event: &inotify::Event<'_>, current: Option<&(i32, OsString)>) -> bool {
    if event.events().contains(ReadFlags::QUEUE_OVERFLOW) {
        return true;
    }
    let Some((wd, name)) = current else {
        return true;
    };
    if event.wd() != *wd {
        return false;
    }
    match event.file_name() {
        None => true,
        Some(n) => n.to_bytes() == name.as_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("whenready-watch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Whether `changed` resolves within a generous bound (the bound only keeps a
    /// broken watch from hanging the test; it is not a timing assertion).
    async fn fires(watch: &Watch) -> bool {
        tokio::time::timeout(Duration::from_secs(20), watch.changed())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_created_file_and_a_directory_on_the_way_wake_the_watch() {
        let dir = temp_dir("create");
        let path = dir.join("a/b/ready");
        let watch = Watch::new(path.clone());
        watch.arm();
        std::fs::create_dir(dir.join("a")).unwrap();
        assert!(fires(&watch).await);
        watch.arm();
        std::fs::create_dir(dir.join("a/b")).unwrap();
        assert!(fires(&watch).await);
        watch.arm();
        std::fs::write(&path, b"").unwrap();
        assert!(fires(&watch).await);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn other_names_in_the_directory_do_not_wake_the_watch() {
        let dir = temp_dir("other");
        let watch = Watch::new(dir.join("ready"));
        watch.arm();
        std::fs::write(dir.join("unrelated"), b"").unwrap();
        // The unrelated event is read and dropped; only the path's own wakes.
        let quiet = tokio::time::timeout(Duration::from_millis(200), watch.changed()).await;
        assert!(quiet.is_err(), "woke for another name");
        std::fs::write(dir.join("ready"), b"").unwrap();
        assert!(fires(&watch).await);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unarmed_watch_has_nothing_registered() {
        let watch = Watch::new(PathBuf::from("/nonexistent/whenready/x"));
        assert!(watch.current.lock().unwrap().is_none());
        watch.arm();
        // "/" exists: the watch sits there, waiting for "nonexistent".
        let current = watch.current.lock().unwrap().clone();
        if let Some((_, name)) = current {
            assert_eq!(name, OsString::from("nonexistent"));
        }
    }
}
