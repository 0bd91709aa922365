//! Payload templates of Generic HTTP destinations. `{{short_url}}`-style placeholders name fields of the
//! event's `data` (plus `id`, `type`, `created_at`, `timestamp`, and `data` itself); a string value is
//! written JSON-escaped without quotes (so it stays inside the template's own string), any other value as
//! JSON. Rendering is bounded by fuel and output size, and the result must be valid JSON.

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, State};

/// Instructions a render may execute: enough for any sane template, stops a loop that never ends.
pub const FUEL: u64 = 50_000;
pub const MAX_TEMPLATE_LEN: usize = 16 * 1024;
pub const MAX_OUTPUT_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{message} (line {line}, column {column})")]
pub struct TemplateError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// A template checked for syntax at save time; rendered per event.
#[derive(Debug, Clone)]
pub struct PayloadTemplate {
    source: String,
}

fn json_formatter(
    out: &mut minijinja::Output<'_>,
    _state: &State<'_, '_>,
    value: &Value,
) -> Result<(), Error> {
    let text = if let Some(s) = value.as_str() {
        let quoted = serde_json::to_string(s)
            .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?;
        quoted[1..quoted.len() - 1].to_owned()
    } else if value.is_undefined() || value.is_none() {
        "null".to_owned()
    } else {
        serde_json::to_string(value)
            .map_err(|e| Error::new(ErrorKind::BadSerialization, e.to_string()))?
    };
    out.write_str(&text)
        .map_err(|_| Error::new(ErrorKind::WriteFailure, "output"))
}

fn environment(source: &str) -> Result<Environment<'_>, TemplateError> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_formatter(json_formatter);
    env.add_template("payload", source)
        .map_err(|e| from_minijinja(&e, source))?;
    Ok(env)
}

fn from_minijinja(e: &Error, source: &str) -> TemplateError {
    let line = e.line().unwrap_or(1);
    let column = e
        .range()
        .map(|r| {
            let before = &source[..r.start.min(source.len())];
            before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1
        })
        .unwrap_or(1);
    let message = match e.kind() {
        ErrorKind::OutOfFuel => "the template ran too long (does it loop forever?)".to_owned(),
        _ => e
            .detail()
            .map(|d| format!("{}: {d}", e.kind()))
            .unwrap_or_else(|| e.kind().to_string()),
    };
    TemplateError {
        message,
        line,
        column,
    }
}

impl PayloadTemplate {
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        if source.len() > MAX_TEMPLATE_LEN {
            return Err(TemplateError {
                message: format!("templates are limited to {MAX_TEMPLATE_LEN} bytes"),
                line: 1,
                column: 1,
            });
        }
        environment(source)?;
        Ok(Self {
            source: source.to_owned(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders against an event envelope (the stored body) and checks the result is JSON.
    pub fn render(&self, envelope_json: &str, timestamp: i64) -> Result<String, TemplateError> {
        let envelope: serde_json::Value =
            serde_json::from_str(envelope_json).map_err(|e| TemplateError {
                message: format!("event body: {e}"),
                line: 1,
                column: 1,
            })?;
        let mut ctx = serde_json::Map::new();
        if let Some(data) = envelope.get("data").and_then(|d| d.as_object()) {
            ctx.extend(data.clone());
        }
        for key in [
            "id",
            "type",
            "created_at",
            "api_version",
            "organization_id",
            "workspace_id",
            "data",
        ] {
            if let Some(v) = envelope.get(key) {
                ctx.insert(key.to_owned(), v.clone());
            }
        }
        ctx.insert("timestamp".into(), timestamp.into());
        let env = environment(&self.source)?;
        let template = env
            .get_template("payload")
            .map_err(|e| from_minijinja(&e, &self.source))?;
        let out = template
            .render(Value::from_serialize(&ctx))
            .map_err(|e| from_minijinja(&e, &self.source))?;
        if out.len() > MAX_OUTPUT_LEN {
            return Err(TemplateError {
                message: format!("the rendered payload exceeds {MAX_OUTPUT_LEN} bytes"),
                line: 1,
                column: 1,
            });
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&out).map_err(|e| TemplateError {
            message: format!("the rendered payload is not valid JSON: {e}"),
            line: e.line(),
            column: e.column(),
        })?;
        Ok(out)
    }
}

/// Ready-made templates: `(name, description, source)`.
pub const STARTERS: &[(&str, &str, &str)] = &[
    (
        "slack",
        "A Slack incoming-webhook message",
        r#"{"text": "{{ type }}: {{ short_url }}{% if country %} from {{ country }}{% endif %}{% if device_category %} on {{ device_category }}{% endif %}"}"#,
    ),
    (
        "sheet_row",
        "A flat row for a spreadsheet append (Google Sheets, Airtable)",
        r#"{"event_id": "{{ id }}", "event_type": "{{ type }}", "occurred_at": "{{ created_at }}", "short_url": "{{ short_url }}", "link_id": "{{ link_id }}", "touch_type": "{{ touch_type }}", "country": "{{ country }}", "device": "{{ device_category }}", "browser": "{{ browser_family }}", "os": "{{ os_family }}", "referrer": "{{ referrer_host }}", "social": "{{ social_source }}", "utm_source": "{{ utm_source }}", "utm_medium": "{{ utm_medium }}", "utm_campaign": "{{ utm_campaign }}"}"#,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"id":"e1","type":"link.clicked","api_version":"2026-03-30","created_at":"2026-03-30T12:00:00.000Z","organization_id":"o","workspace_id":"w","data":{"short_url":"https://go.x/a","country":"GB","device_category":"mobile","utm_source":"say \"hi\" {x}","referrer_host":null}}"#;

    #[test]
    fn strings_stay_inside_their_json_string() {
        let t = PayloadTemplate::parse(r#"{"text": "{{ utm_source }} via {{ short_url }}", "n": {{ timestamp }}, "r": "{{ referrer_host }}"}"#).unwrap();
        let out = t.render(EVENT, 1_774_872_000).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["text"], "say \"hi\" {x} via https://go.x/a");
        assert_eq!(v["n"], 1_774_872_000);
        assert_eq!(v["r"], "null");
    }

    #[test]
    fn a_loop_that_never_ends_is_stopped() {
        let t = PayloadTemplate::parse(
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        )
        .unwrap();
        let err = t.render(EVENT, 0).unwrap_err();
        assert!(err.message.contains("too long"), "{err}");
    }

    #[test]
    fn invalid_json_output_and_syntax_errors_point_at_line_and_column() {
        let t = PayloadTemplate::parse("{\n  \"a\": {{ short_url }}\n}").unwrap();
        let err = t.render(EVENT, 0).unwrap_err();
        assert!(err.message.contains("not valid JSON"), "{err}");
        assert_eq!(err.line, 2);
        let syntax = PayloadTemplate::parse("{\"a\": \"{{ short_url }\"}").unwrap_err();
        assert_eq!(syntax.line, 1);
        assert!(syntax.column > 1, "{syntax:?}");
    }

    #[test]
    fn starters_render_valid_json() {
        for (name, _, source) in STARTERS {
            let out = PayloadTemplate::parse(source).unwrap().render(EVENT, 0);
            assert!(out.is_ok(), "{name}: {out:?}");
        }
    }
}
