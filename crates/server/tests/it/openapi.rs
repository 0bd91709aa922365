//! `/api/openapi.json` describes every route, and every route it describes is served.

use reqwest::Method;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn every_documented_route_is_served() {
    let app = TestApp::spawn().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 40, "{}", paths.len());
    let unknown_id = "01990000-0000-7000-8000-000000000000";
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let url = path.replace("{id}", unknown_id);
            let method: Method = method.to_uppercase().parse().unwrap();
            let mut req = app.api(method.clone(), &url);
            if method != Method::GET && method != Method::DELETE {
                req = req.json(&serde_json::json!({}));
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            assert!(
                !body.contains("route not found") && status != 405 && status < 500,
                "{method} {url}: {status} {body}"
            );
        }
    }
}

#[tokio::test]
async fn the_reference_page_is_served_with_its_script() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/dashboard/assets/docs.js"));
    let js = app
        .client
        .get(app.url("/dashboard/assets/docs.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("/api/openapi.json"));
}
