//! `ferry` with no arguments opens the window, and `ferry PATH...` opens it with those files
//! chosen ("Open with Ferry"); with a subcommand it runs headless.

use std::process::ExitCode;

use clap::Parser;
use ferry::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(cmd) => ferry::cli::run(cmd, &cli.net),
        None => ferry::ui::run(cli.paths),
    }
}
