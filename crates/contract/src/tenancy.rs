//! Plans, the features they gate, and credential scopes (contract §1, §7).

use crate::string_enum;

string_enum! {
    /// Organization plans, lowest to highest; the derived order is the plan order.
    pub enum Plan: "plan" {
        Starter = "starter",
        Plus = "plus",
        Growth = "growth",
        Professional = "professional",
        Enterprise = "enterprise",
    }
}

impl Plan {
    /// Click data older than this is pruned (Nimriz docs).
    pub fn click_retention_days(self) -> u32 {
        match self {
            Plan::Starter => 14,
            Plan::Plus => 60,
            Plan::Growth => 120,
            Plan::Professional => 270,
            Plan::Enterprise => 540,
        }
    }

    pub fn allows(self, feature: Feature) -> bool {
        self >= feature.minimum_plan()
    }
}

string_enum! {
    /// A plan-gated capability.
    pub enum Feature: "feature" {
        LifecycleWebhooks = "lifecycle_webhooks",
        NoCodeInstallations = "no_code_installations",
        ClickWebhooks = "click_webhooks",
        GenericHttpDestinations = "generic_http_destinations",
        PasswordProtectedLinks = "password_protected_links",
    }
}

impl Feature {
    pub fn minimum_plan(self) -> Plan {
        match self {
            Feature::LifecycleWebhooks | Feature::NoCodeInstallations => Plan::Plus,
            Feature::ClickWebhooks
            | Feature::GenericHttpDestinations
            | Feature::PasswordProtectedLinks => Plan::Professional,
        }
    }
}

string_enum! {
    pub enum Scope: "scope" {
        LinksRead = "links:read",
        LinksWrite = "links:write",
        DomainsRead = "domains:read",
        DomainsWrite = "domains:write",
        AnalyticsRead = "analytics:read",
        WebhooksRead = "webhooks:read",
        WebhooksWrite = "webhooks:write",
        ConnectionsRead = "connections:read",
        ConnectionsWrite = "connections:write",
        EventsRead = "events:read",
        Admin = "admin",
    }
}

impl Scope {
    /// Every scope a workspace API key may carry.
    pub const API_KEY: &'static [Scope] = &[
        Scope::LinksRead,
        Scope::LinksWrite,
        Scope::DomainsRead,
        Scope::DomainsWrite,
        Scope::AnalyticsRead,
        Scope::WebhooksRead,
        Scope::WebhooksWrite,
        Scope::ConnectionsRead,
        Scope::ConnectionsWrite,
        Scope::Admin,
    ];
    /// The only scopes an installation token carries.
    pub const INSTALLATION: &'static [Scope] =
        &[Scope::WebhooksRead, Scope::WebhooksWrite, Scope::EventsRead];
}

/// A set of scopes, stored as a space-separated string. `admin` implies every workspace API key scope and
/// `events:read`; reading events is also implied by `webhooks:read`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut v: Vec<Scope> = scopes.into_iter().collect();
        v.sort();
        v.dedup();
        Self(v)
    }

    pub fn all_api_key_scopes() -> Self {
        Self::new(Scope::API_KEY.iter().copied())
    }

    pub fn allows(&self, wanted: Scope) -> bool {
        self.0.contains(&wanted)
            || (self.0.contains(&Scope::Admin) && wanted != Scope::Admin)
            || (wanted == Scope::EventsRead && self.0.contains(&Scope::WebhooksRead))
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Parses the space- or comma-separated storage form.
    pub fn parse(s: &str) -> Result<Self, crate::UnknownVariant> {
        s.split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    pub fn to_storage(&self) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn to_strings(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.as_str()).collect()
    }
}

string_enum! {
    /// A dashboard member's role in their workspace, most to least powerful.
    pub enum Role: "role" {
        Owner = "owner",
        Admin = "admin",
        Member = "member",
        Viewer = "viewer",
    }
}

impl Role {
    /// What a signed-in member may do, as the scopes an API key would need for the same operations.
    pub fn scopes(self) -> ScopeSet {
        use Scope::*;
        match self {
            Role::Owner | Role::Admin => ScopeSet::all_api_key_scopes(),
            Role::Member => ScopeSet::new([
                LinksRead,
                LinksWrite,
                DomainsRead,
                DomainsWrite,
                AnalyticsRead,
                WebhooksRead,
                WebhooksWrite,
                ConnectionsRead,
                ConnectionsWrite,
                EventsRead,
            ]),
            Role::Viewer => ScopeSet::new([
                LinksRead,
                DomainsRead,
                AnalyticsRead,
                WebhooksRead,
                ConnectionsRead,
                EventsRead,
            ]),
        }
    }

    /// Viewers look; everyone else may change things their scopes allow.
    pub fn can_write(self) -> bool {
        self != Role::Viewer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_gates_follow_the_contract() {
        let cases = [
            (Plan::Starter, Feature::LifecycleWebhooks, false),
            (Plan::Plus, Feature::LifecycleWebhooks, true),
            (Plan::Plus, Feature::NoCodeInstallations, true),
            (Plan::Growth, Feature::ClickWebhooks, false),
            (Plan::Professional, Feature::ClickWebhooks, true),
            (Plan::Professional, Feature::GenericHttpDestinations, true),
            (Plan::Growth, Feature::PasswordProtectedLinks, false),
            (Plan::Enterprise, Feature::PasswordProtectedLinks, true),
        ];
        for (plan, feature, allowed) in cases {
            assert_eq!(plan.allows(feature), allowed, "{plan} {feature}");
        }
    }

    #[test]
    fn retention_days_by_plan() {
        let days: Vec<u32> = Plan::ALL.iter().map(|p| p.click_retention_days()).collect();
        assert_eq!(days, [14, 60, 120, 270, 540]);
    }

    #[test]
    fn scopes_round_trip_and_admin_implies_the_rest() {
        let set = ScopeSet::parse("links:read webhooks:read").unwrap();
        assert!(set.allows(Scope::LinksRead));
        assert!(set.allows(Scope::EventsRead));
        assert!(!set.allows(Scope::LinksWrite));
        assert_eq!(ScopeSet::parse(&set.to_storage()).unwrap(), set);
        let admin = ScopeSet::parse("admin").unwrap();
        assert!(admin.allows(Scope::DomainsWrite));
        assert!(admin.allows(Scope::Admin));
        assert!(ScopeSet::parse("links:read,bogus").is_err());
        let install = ScopeSet::new(Scope::INSTALLATION.iter().copied());
        assert!(!install.allows(Scope::LinksWrite));
        assert!(!install.allows(Scope::Admin));
    }

    #[test]
    fn viewers_only_read_and_members_never_administer() {
        let writes = [
            Scope::LinksWrite,
            Scope::DomainsWrite,
            Scope::WebhooksWrite,
            Scope::ConnectionsWrite,
            Scope::Admin,
        ];
        let viewer = Role::Viewer.scopes();
        assert!(writes.iter().all(|s| !viewer.allows(*s)));
        assert!(viewer.allows(Scope::WebhooksRead) && viewer.allows(Scope::EventsRead));
        assert!(!Role::Viewer.can_write());
        let member = Role::Member.scopes();
        assert!(member.allows(Scope::WebhooksWrite) && !member.allows(Scope::Admin));
        assert!(Role::Owner.scopes().allows(Scope::Admin));
        assert!(Role::Admin.scopes().allows(Scope::Admin));
    }
}
