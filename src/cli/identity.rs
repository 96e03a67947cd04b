//! `ferry identity`: this device's key, as other devices know it; `--reset` makes a new one.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::identity::DeviceIdentity;
use crate::settings::config_dir;

pub fn run(reset: bool, yes: bool, json: bool) -> Result<ExitCode> {
    let dir = config_dir();
    if reset {
        if !yes && !confirmed()? {
            eprintln!("Nothing changed: this device keeps its identity.");
            return Ok(ExitCode::from(4));
        }
        let identity = DeviceIdentity::reset(&dir)
            .with_context(|| format!("Couldn't save a new identity in {}", dir.display()))?;
        print(&identity, json);
        if !json {
            println!(
                "This is a new identity. Devices that knew this one will see it as new (and warn that it is \
                 not the device they knew). A Ferry window or `ferry receive` already running keeps the old \
                 one until it is started again."
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = DeviceIdentity::load_or_create(&dir)
        .with_context(|| format!("Couldn't read or make this device's identity in {}", dir.display()))?;
    if let Some(w) = loaded.warning {
        eprintln!("Warning: {w}");
    }
    print(&loaded.identity, json);
    Ok(ExitCode::SUCCESS)
}

fn print(identity: &DeviceIdentity, json: bool) {
    let fp = identity.fingerprint();
    if json {
        println!("{}", serde_json::json!({ "fingerprint": fp.to_hex(), "short": fp.short() }));
    } else {
        println!("Fingerprint: {}", fp.short());
        println!("Full:        {}", fp.to_hex());
    }
}

/// Asks on the terminal; without one (a script), only `--yes` resets.
fn confirmed() -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!("ferry identity --reset needs a yes: run it in a terminal, or add --yes.");
        return Ok(false);
    }
    eprint!("Make a new identity for this device? Devices that know it will no longer recognise it. [y/N] ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}
