//! `linkwire`: thin entry point; everything lives in the library.

use std::process::ExitCode;

use clap::Parser;
use linkwire_server::cli::{Cli, Command};
use linkwire_server::config::{Settings, SettingsArgs};
use linkwire_server::{admin, app, telemetry, Application, Dependencies};

// glibc's allocator was 15 % of the server under redirect load (allocations made on the HTTP workers
// and freed on the SQLite thread); mimalloc handles that cross-thread pattern far more cheaply.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Admin(args) => admin::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: SettingsArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args)?;
    telemetry::init(settings.log_format);
    let app = Application::build(settings.clone(), Dependencies::default()).await?;
    println!(
        "linkwire {} listening on http://{}",
        env!("CARGO_PKG_VERSION"),
        app.local_addr()
    );
    println!(
        "  public URL: {}  (default short-link domain: {})",
        settings.public_base(),
        settings.default_domain()
    );
    println!("  database:   {}", settings.database_label());
    if let Some(b) = &app.bootstrapped {
        println!();
        println!("  First start: created an organization, a workspace and this admin API key (shown once):");
        println!();
        println!("    {}", b.token);
        println!();
        println!(
            "  It is also saved in {} (mode 0600).",
            b.key_file.display()
        );
    }
    if app.state().store.count_members().await? == 0 {
        println!();
        println!(
            "  Dashboard: {}/dashboard. Add the first member (you will be asked for a password):",
            settings.public_base()
        );
        println!("    linkwire admin user create --email you@example.com --role owner");
    }
    app.run_until(app::shutdown_signal()).await
}
