//! The deployment files: docker-compose.yml validated without a Docker engine (with
//! `docker compose config` where the plugin exists), and the haproxy config rendered from the
//! one template that the local launcher uses too.

mod common;

use common::run_python;

#[test]
fn compose_file_and_load_balancer_config_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    run_python(&format!("{root}/deploy/check_compose.py"), &[root]);
}
