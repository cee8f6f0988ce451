//! Kubernetes: ExternalSecrets, Secrets, rollouts, exec and the tunnel.
