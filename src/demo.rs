//! `ttui demo`: a local swarm on 127.0.0.1 that needs no internet.

#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Payload size in MiB.
    #[arg(long, default_value_t = 256)]
    pub size_mib: u64,
    /// Progress lines instead of the TUI; exits 0 when the download verifies.
    #[arg(long)]
    pub headless: bool,
}

pub fn run(_args: DemoArgs) -> Result<i32, String> {
    Err("demo is not built yet".into())
}
