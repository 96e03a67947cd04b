//! Placeholder until the window branch lands.
pub fn run() -> std::process::ExitCode {
    use clap::CommandFactory;
    let _ = crate::cli::Cli::command().print_help();
    std::process::ExitCode::SUCCESS
}
