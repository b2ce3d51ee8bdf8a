//! A real HTTP server for the HTTP tests: Python's http.server, serving the files of
//! a directory (which a test rewrites to change the answers) on a TCP port or a Unix
//! socket, optionally over TLS that requires a client certificate. `/echo` answers
//! with the request as JSON; `/auth` answers 200 when Authorization equals the
//! server's `EXPECTED_AUTH` variable, else 401.

use super::{require, TempDir};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const SERVER: &str = r#"
import json, os, socketserver, ssl, sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

class Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def special(self):
        if self.path.startswith("/echo"):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
            self.answer(200, {"method": self.command, "path": self.path, "headers": headers, "body": body})
            return True
        if self.path.startswith("/auth"):
            ok = self.headers.get("Authorization") == os.environ.get("EXPECTED_AUTH")
            self.answer(200 if ok else 401, {"authorized": ok})
            return True
        return False

    def do_GET(self):
        if not self.special():
            super().do_GET()

    def do_POST(self):
        if not self.special():
            self.answer(405, {})

    do_PUT = do_POST

class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    def get_request(self):
        request, _ = super().get_request()
        return request, ("local", 0)

mode, where, root = sys.argv[1], sys.argv[2], sys.argv[3]
handler = partial(Handler, directory=root)
if mode == "unix":
    server = UnixServer(where, handler)
else:
    server = ThreadingHTTPServer(("127.0.0.1", int(where)), handler)
    server.daemon_threads = True
if len(sys.argv) > 4:
    ca, cert, key = sys.argv[4:7]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

/// Python's http.server on a free port or a Unix socket, killed on drop.
pub struct PyHttp {
    /// Its TCP port on 127.0.0.1 (0 on a Unix socket).
    pub port: u16,
    /// Its Unix socket, if it listens on one.
    pub socket: Option<PathBuf>,
    /// The directory it serves: write files here to change its answers.
    pub root: PathBuf,
    child: Child,
    _dir: TempDir,
}

impl PyHttp {
    /// Serves on a free TCP port; `env` goes to the server (EXPECTED_AUTH).
    pub fn tcp(env: &[(&str, &str)]) -> PyHttp {
        PyHttp::start(false, None, env)
    }

    /// Serves on a Unix socket in its temp dir.
    pub fn unix() -> PyHttp {
        PyHttp::start(true, None, &[])
    }

    /// HTTPS on a free port with the server certificate of `certs`, requiring a
    /// client certificate signed by its CA.
    pub fn mtls(certs: &super::Certs) -> PyHttp {
        PyHttp::start(false, Some(certs), &[])
    }

    fn start(unix: bool, tls: Option<&super::Certs>, env: &[(&str, &str)]) -> PyHttp {
        let python = require("python3", "python3");
        let dir = TempDir::new("pyhttp");
        let root = dir.join("root");
        std::fs::create_dir_all(&root).unwrap();
        let script = dir.join("server.py");
        std::fs::write(&script, SERVER).unwrap();
        let (port, socket) = if unix {
            (0, Some(dir.join("app.sock")))
        } else {
            (super::free_port(), None)
        };
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg(if unix { "unix" } else { "tcp" })
            .arg(match &socket {
                Some(s) => s.display().to_string(),
                None => port.to_string(),
            })
            .arg(&root)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(c) = tls {
            cmd.arg(&c.ca).arg(&c.cert).arg(&c.key);
        }
        let child = cmd.spawn().expect("start python3");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let up = match &socket {
                Some(s) => std::os::unix::net::UnixStream::connect(s).is_ok(),
                None => TcpStream::connect(("127.0.0.1", port)).is_ok(),
            };
            if up {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "python3 http.server did not start"
            );
            thread::sleep(Duration::from_millis(10));
        }
        PyHttp {
            port,
            socket,
            root,
            child,
            _dir: dir,
        }
    }

    /// Writes a file the server then serves at `/NAME`.
    pub fn put(&self, name: &str, content: &str) {
        let path: &Path = &self.root;
        // Write then rename, so a request never sees half a file.
        let tmp = path.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, content).unwrap();
        std::fs::rename(&tmp, path.join(name)).unwrap();
    }

    /// `http+unix://%2F…%2Fapp.sock` for a server on a Unix socket.
    pub fn unix_base(&self) -> String {
        let path = self.socket.as_ref().expect("a Unix socket server");
        format!(
            "http+unix://{}",
            path.display().to_string().replace('/', "%2F")
        )
    }
}

impl Drop for PyHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
