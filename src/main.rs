//! The `ttui` binary: everything is in the library (`cli::entry`), so tests and fuzz targets
//! build against the same code.
fn main() -> std::process::ExitCode {
    ttui::run()
}
