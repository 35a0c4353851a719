// SPDX-License-Identifier: GPL-2.0

//! The `tokio` feature: run commands concurrently on one thread and collect their output.
//!
//! ```text
//! cargo run --features tokio --example tokio-output -- uname -r
//! ```
//!
//! Runs the command given (or `uname -a`) three times at once, each tied to this process: if it
//! is killed while they run, so are they.

use autokill::tokio::CommandExt;
use autokill::Command;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        args = vec!["uname".into(), "-a".into()];
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let runs = (0..3).map(|_| {
            let args = args.clone();
            tokio::spawn(
                async move { Command::new(&args[0]).args(&args[1..]).output_async().await },
            )
        });
        for run in runs.collect::<Vec<_>>() {
            let output = run.await??;
            print!(
                "{} {}",
                output.status,
                String::from_utf8_lossy(&output.stdout)
            );
        }
        Ok(())
    })
}
