//! Operations behind the HTTP handlers: each takes the state, the caller and parsed input, does one job,
//! and writes the change with its event. No HTTP types here.

pub mod api_keys;
pub mod destinations;
pub mod domains;
pub mod integrations;
pub mod links;
pub mod members;
pub mod samples;
pub mod webhooks;

/// A PATCH field: absent (leave alone), `null` (clear) or a value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Patch<T> {
    // Only called when the key is present (with `#[serde(default)]` on the field), so absent stays Absent.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Patch;

    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        expires_at: Patch<String>,
    }

    #[test]
    fn patch_tells_absent_null_and_value_apart() {
        let parse = |s: &str| serde_json::from_str::<Body>(s).unwrap().expires_at;
        assert_eq!(parse("{}"), Patch::Absent);
        assert_eq!(parse(r#"{"expires_at":null}"#), Patch::Null);
        assert_eq!(parse(r#"{"expires_at":"x"}"#), Patch::Value("x".into()));
    }
}
