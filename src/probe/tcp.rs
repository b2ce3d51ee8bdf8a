//! `HOST:PORT`, `tcp://HOST:PORT`, `[IPV6]:PORT`: ready when a TCP connection is
//! established; it is then closed cleanly (FIN, not RST).

use super::kind::{Attempt, Check, Ctx, Kind};
use super::{net, ProbeError};
use crate::endpoint::{url_endpoint, Endpoint};
use crate::env::Env;
use url::Url;

/// The TCP kind.
pub struct Tcp;

impl Kind for Tcp {
    fn name(&self) -> &'static str {
        "tcp"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["tcp"]
    }
    fn forms(&self) -> &'static str {
        "HOST:PORT, tcp://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "HOST:PORT, tcp://HOST:PORT, [IPV6]:PORT",
            "a TCP connection opens",
        )
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        let userinfo = !url.username().is_empty() || url.password().is_some();
        if !matches!(url.path(), "" | "/") || url.query().is_some() || userinfo {
            return Err("a tcp:// target is tcp://HOST:PORT and nothing more".into());
        }
        Ok(Box::new(TcpTarget(url_endpoint(url, None)?)))
    }
}

/// A TCP target: the endpoint to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpTarget(pub Endpoint);

impl Check for TcpTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            let stream = net::connect(&self.0).await?;
            drop(stream);
            Ok(())
        })
    }
    fn attempt_now(&self) -> Option<Result<(), ProbeError>> {
        // Dropping the connection closes it, as after `probe`.
        net::connect_now(&self.0).map(|r| r.map(drop))
    }
}
