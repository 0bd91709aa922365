//! `linkwire admin …`: operator tasks run directly against the database.

use anyhow::{anyhow, bail, Context};
use linkwire_contract::{
    format_timestamp, Clock, OrganizationId, Plan, Role, Scope, ScopeSet, SystemClock, WorkspaceId,
};
use linkwire_store::{CredentialKind, Store, StoreOptions};

use crate::auth;
use crate::cli::{AdminArgs, AdminCommand, KeyCommand, OrgCommand, UserCommand, WorkspaceCommand};
use crate::config::Settings;
use crate::service::members;

fn parse_plan(raw: &str) -> anyhow::Result<Plan> {
    raw.parse().map_err(|_| {
        anyhow!("unknown plan `{raw}`: use starter, plus, growth, professional or enterprise")
    })
}

fn parse_id<T: std::str::FromStr>(what: &str, raw: &str) -> anyhow::Result<T> {
    raw.parse()
        .map_err(|_| anyhow!("`{raw}` is not a {what} id"))
}

/// Runs one admin command, printing its result to stdout.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.settings_args())?;
    std::fs::create_dir_all(&settings.data_dir)?;
    let store = Store::open(
        &settings.database_url(),
        &StoreOptions {
            max_connections: 2,
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("opening {}", settings.database_label()))?;
    let now = SystemClock.now();
    match args.command {
        AdminCommand::Org(OrgCommand::Create { name, plan }) => {
            let org = store
                .create_organization(&name, parse_plan(&plan)?, now)
                .await?;
            println!("organization {} ({}) plan={}", org.id, org.name, org.plan);
        }
        AdminCommand::Org(OrgCommand::List) => {
            for org in store.list_organizations().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    org.id,
                    org.plan,
                    format_timestamp(org.created_at),
                    org.name
                );
            }
        }
        AdminCommand::Org(OrgCommand::SetPlan { org, plan }) => {
            let id: OrganizationId = parse_id("organization", &org)?;
            let plan = parse_plan(&plan)?;
            if !store.set_plan(id, plan).await? {
                bail!("no organization {id}");
            }
            println!("organization {id} plan={plan}");
        }
        AdminCommand::Workspace(WorkspaceCommand::Create { org, name }) => {
            let ws = store
                .create_workspace(parse_id("organization", &org)?, &name, now)
                .await
                .map_err(|e| anyhow!("creating workspace: {e} (does organization {org} exist?)"))?;
            println!(
                "workspace {} ({}) in organization {}",
                ws.id, ws.name, ws.organization_id
            );
        }
        AdminCommand::Workspace(WorkspaceCommand::List) => {
            for ws in store.list_workspaces().await? {
                println!("{}\t{}\t{}", ws.id, ws.organization_id, ws.name);
            }
        }
        AdminCommand::Key(KeyCommand::Create {
            workspace,
            name,
            scopes,
        }) => {
            let ws: WorkspaceId = parse_id("workspace", &workspace)?;
            if store.tenant(ws).await?.is_none() {
                bail!("no workspace {ws}");
            }
            let scopes = match scopes {
                Some(s) => ScopeSet::parse(&s).map_err(|e| anyhow!("{e}"))?,
                None => ScopeSet::all_api_key_scopes(),
            };
            if scopes.iter().any(|s| !Scope::API_KEY.contains(&s)) || scopes.iter().next().is_none()
            {
                bail!(
                    "API keys take one or more of: {}",
                    Scope::API_KEY
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            let issued = auth::issue(
                &store,
                ws,
                CredentialKind::ApiKey,
                &name,
                None,
                &scopes,
                now,
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
            eprintln!(
                "API key {} ({}) scopes: {}",
                issued.credential.id,
                name,
                scopes.to_storage()
            );
            eprintln!("The token below is shown once; store it now.");
            println!("{}", issued.token);
        }
        AdminCommand::Key(KeyCommand::List { workspace }) => {
            let ws: WorkspaceId = parse_id("workspace", &workspace)?;
            for key in store.list_credentials(ws, CredentialKind::ApiKey).await? {
                let state = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{}\t{}…\t{}\t{}\t{}",
                    key.id,
                    key.token_prefix,
                    state,
                    key.scopes.to_storage(),
                    key.name
                );
            }
        }
        AdminCommand::User(UserCommand::Create {
            email,
            role,
            workspace,
            name,
            password_stdin,
        }) => {
            let role: Role = role.parse().map_err(|_| {
                anyhow!("unknown role `{role}`: use owner, admin, member or viewer")
            })?;
            let ws = match workspace {
                Some(w) => parse_id("workspace", &w)?,
                None => match store.list_workspaces().await?.as_slice() {
                    [only] => only.id,
                    [] => bail!("no workspace yet: start `linkwire serve` once, or create one"),
                    _ => bail!("several workspaces: say which with --workspace (see `linkwire admin workspace list`)"),
                },
            };
            if store.tenant(ws).await?.is_none() {
                bail!("no workspace {ws}");
            }
            let password = read_password(password_stdin, "Password for the new member")?;
            let member = members::create(
                &store,
                members::NewMember {
                    workspace_id: ws,
                    email: &email,
                    name: name.as_deref(),
                    role,
                    password: &password,
                },
                now,
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
            println!(
                "member {} ({}) role={} workspace={}",
                member.id, member.email, member.role, member.workspace_id
            );
        }
        AdminCommand::User(UserCommand::SetPassword {
            email,
            password_stdin,
        }) => {
            let password = read_password(password_stdin, "New password")?;
            let member = members::set_password(&store, &email, &password)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            println!(
                "password set for {}; their sessions have ended",
                member.email
            );
        }
        AdminCommand::User(UserCommand::Remove { email }) => {
            let email = members::normalize_email(&email).map_err(|e| anyhow!("{e}"))?;
            let Some(member) = store.member_by_email(&email).await? else {
                bail!("no member {email}");
            };
            if !store.remove_member(member.workspace_id, member.id).await? {
                bail!("no member {email}");
            }
            println!(
                "removed {} ({}) from workspace {}",
                member.email, member.role, member.workspace_id
            );
        }
        AdminCommand::User(UserCommand::List) => {
            for ws in store.list_workspaces().await? {
                for m in store.list_members(ws.id).await? {
                    println!("{}\t{}\t{}\t{}", m.id, ws.id, m.role, m.email);
                }
            }
        }
    }
    store.close().await;
    Ok(())
}

/// A password: typed at a prompt (`what`) without echo, or one line of stdin with --password-stdin (to
/// pipe it from a secret store).
fn read_password(from_stdin: bool, what: &str) -> anyhow::Result<String> {
    use std::io::BufRead;
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let prompt = format!(
        "{what} (at least {} characters): ",
        members::MIN_PASSWORD_LEN
    );
    rpassword::prompt_password(prompt)
        .context("no terminal to ask for a password: pass --password-stdin and pipe it in")
}
