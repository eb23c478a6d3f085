//! Smoke test of the load generator: a few connections for a few seconds
//! against the real server (started in this process) and against the bare
//! relay. It checks that a run completes, reports no errors and counts
//! something; it asserts no timing (timings belong in docs/BENCHMARKS.md).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tsunagu::auth;
use tsunagu::config::{Secret, Settings, UserSeed};
use tsunagu::model::Role;
use tsunagu::startup::Application;

const PASSWORD: &str = "smoke-password-0123";

fn report_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("loadgen-{name}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// Run the load generator; return its JSON report.
fn loadgen(args: &[&str], json: &PathBuf) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .arg("--json")
        .arg(json)
        .env("LOADGEN_PASSWORD", PASSWORD)
        .output()
        .expect("the load generator runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "loadgen failed:\n{stdout}\n{stderr}");
    let text = std::fs::read_to_string(json).expect("a report");
    let _ = std::fs::remove_file(json);
    serde_json::from_str(text.lines().last().expect("one line")).expect("JSON")
}

#[test]
fn loadgen_drives_visitors_and_counsellors_through_the_real_server() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let port = rt.block_on(async {
        let mut s = Settings {
            bind: "127.0.0.1:0".parse().unwrap(),
            log: "warn".into(),
            ..Settings::default()
        };
        s.limits.frames_per_sec = 10_000;
        s.limits.frames_burst = 10_000;
        // In memory (nothing left on disk) and open whatever the hour.
        s.store = tsunagu::config::StoreMode::Memory;
        s.hours.always_open = true;
        s.users = vec![UserSeed {
            username: "bench-c0".into(),
            display_name: "smoke".into(),
            role: Role::Counsellor,
            password_hash: Secret::new(auth::hash_password(PASSWORD).unwrap()),
        }];
        let app = Application::build(s).await.expect("the server starts");
        let port = app.port();
        app.spawn();
        port
    });
    let addr = format!("127.0.0.1:{port}");
    let r = loadgen(
        &[
            "--addr",
            &addr,
            "--label",
            "smoke",
            "--idle",
            "5",
            "--pairs",
            "2",
            "--capacity",
            "2",
            "--rate",
            "20",
            "--duration",
            "2",
            "--warmup",
            "0.5",
            "--burst",
            "3",
            "--burst-secs",
            "0.5",
        ],
        &report_path("tsunagu"),
    );
    assert_eq!(r["error_total"], 0, "{r}");
    assert_eq!(r["idle_told"], 5, "{r}");
    // 5 idle + 2 pair visitors + 1 counsellor.
    assert_eq!(r["connections_held"], 8, "{r}");
    assert!(r["delivered_per_sec"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["latency_ms"]["count"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(r["burst_told"], 3, "{r}");
    drop(rt);
}

#[test]
fn loadgen_drives_the_bare_relay_baseline() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut relay = Command::new(env!("CARGO_BIN_EXE_bare-relay"))
        .arg(&addr)
        .stderr(Stdio::null())
        .spawn()
        .expect("the bare relay starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "the bare relay never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = loadgen(
        &[
            "--target",
            "relay",
            "--addr",
            &addr,
            "--label",
            "smoke-relay",
            "--idle",
            "3",
            "--pairs",
            "2",
            "--rate",
            "20",
            "--duration",
            "2",
            "--warmup",
            "0.5",
        ],
        &report_path("relay"),
    );
    let _ = relay.kill();
    let _ = relay.wait();
    assert_eq!(r["error_total"], 0, "{r}");
    assert_eq!(r["connections_held"], 7, "{r}");
    assert!(r["delivered_per_sec"].as_f64().unwrap() > 0.0, "{r}");
}
