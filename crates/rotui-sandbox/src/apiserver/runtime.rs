//! What the API server delegates to for `pods/exec` and `pods/portforward`:
//! the sandbox's pod runtime (implemented elsewhere) runs commands and owns
//! the pods' ports. The server only speaks the wire protocol.

use futures::future::BoxFuture;
use tokio::net::TcpStream;

/// Runs commands in pods and opens connections to their ports.
pub trait PodRuntime: Send + Sync + 'static {
    /// Run `command` in `container` of pod `namespace/pod`; return stdout, stderr, exit code.
    fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: Vec<String>,
    ) -> BoxFuture<'static, Result<ExecOutput, String>>;

    /// Open a byte stream to `port` of the pod (port-forward); the server pumps it both ways.
    fn port_forward(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
    ) -> BoxFuture<'static, Result<TcpStream, String>>;
}

/// The result of a finished command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

/// A runtime without pods: every exec and port-forward fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRuntime;

impl PodRuntime for NoRuntime {
    fn exec(
        &self,
        namespace: &str,
        pod: &str,
        _container: &str,
        _command: Vec<String>,
    ) -> BoxFuture<'static, Result<ExecOutput, String>> {
        let msg = format!("no pod runtime: cannot exec in {namespace}/{pod}");
        Box::pin(async move { Err(msg) })
    }

    fn port_forward(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
    ) -> BoxFuture<'static, Result<TcpStream, String>> {
        let msg = format!("no pod runtime: cannot forward to {namespace}/{pod}:{port}");
        Box::pin(async move { Err(msg) })
    }
}
