//! Domain verification and readiness states (contract §3, `domain.verification_updated`).

use crate::string_enum;

string_enum! {
    pub enum VerificationStatus: "verification_status" {
        Pending = "pending",
        Verified = "verified",
        Failed = "failed",
    }
}

string_enum! {
    pub enum DomainStatus: "domain_status" {
        Pending = "pending",
        Active = "active",
        Disabled = "disabled",
    }
}

/// The observable state of a domain; an event is emitted whenever it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DomainState {
    pub verification_status: VerificationStatus,
    pub ready_for_traffic: bool,
    pub domain_status: DomainStatus,
}

impl DomainState {
    pub const PENDING: DomainState = DomainState {
        verification_status: VerificationStatus::Pending,
        ready_for_traffic: false,
        domain_status: DomainStatus::Pending,
    };

    /// The state after a verification check with the given result.
    pub fn after_check(self, verified: bool) -> DomainState {
        if self.domain_status == DomainStatus::Disabled {
            return DomainState {
                verification_status: self.verification_status,
                ..self
            };
        }
        if verified {
            DomainState {
                verification_status: VerificationStatus::Verified,
                ready_for_traffic: true,
                domain_status: DomainStatus::Active,
            }
        } else {
            DomainState {
                verification_status: VerificationStatus::Failed,
                ready_for_traffic: false,
                domain_status: DomainStatus::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_moves_pending_to_verified_or_failed() {
        let ok = DomainState::PENDING.after_check(true);
        assert_eq!(ok.verification_status, VerificationStatus::Verified);
        assert!(ok.ready_for_traffic);
        assert_eq!(ok.domain_status, DomainStatus::Active);
        let bad = DomainState::PENDING.after_check(false);
        assert_eq!(bad.verification_status, VerificationStatus::Failed);
        assert!(!bad.ready_for_traffic);
        // A failed re-check of a verified domain takes it out of traffic.
        assert_eq!(ok.after_check(false), bad);
    }
}
