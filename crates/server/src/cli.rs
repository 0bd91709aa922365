//! The `linkwire` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::SettingsArgs;

#[derive(Debug, Parser)]
#[command(
    name = "linkwire",
    version,
    about = "Branded short links and QR codes with a signed, at-least-once event layer"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API, the redirect server and the background workers.
    Serve(Box<SettingsArgs>),
    /// Operator tasks on the database: organizations, plans, workspaces, API keys.
    Admin(AdminArgs),
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[arg(long, env = "LINKWIRE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[arg(long, env = "LINKWIRE_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, env = "LINKWIRE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: AdminCommand,
}

impl AdminArgs {
    pub fn settings_args(&self) -> SettingsArgs {
        SettingsArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Default::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations and their plans.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Workspaces.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Workspace API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Dashboard members (email and password sign-in).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a member who signs in to the dashboard at /dashboard.
    Create {
        #[arg(long)]
        email: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "owner")]
        role: String,
        /// The workspace; may be left out when there is only one.
        #[arg(long)]
        workspace: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of standard input instead of prompting for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List members of every workspace.
    List,
    /// Set a member's password (a reset); signs them out everywhere.
    SetPassword {
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input instead of prompting for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Remove a member; signs them out everywhere.
    Remove {
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        #[arg(long)]
        name: String,
        /// starter, plus, growth, professional or enterprise.
        #[arg(long, default_value = "starter")]
        plan: String,
    },
    /// List organizations.
    List,
    /// Change an organization's plan.
    SetPlan {
        #[arg(long)]
        org: String,
        #[arg(long)]
        plan: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace in an organization.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        name: String,
    },
    /// List workspaces.
    List,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create an API key; the token is printed once.
    Create {
        #[arg(long)]
        workspace: String,
        #[arg(long, default_value = "operator key")]
        name: String,
        /// Space- or comma-separated scopes; default: every API key scope.
        #[arg(long)]
        scopes: Option<String>,
    },
    /// List a workspace's API keys (prefixes only).
    List {
        #[arg(long)]
        workspace: String,
    },
}
