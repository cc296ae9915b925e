//! `orion::Server` itself, in-process: what `orion serve` builds, with its background work and
//! the SMTP listener, answering on the ports it chose and stopping cleanly.

use orion::{DatabaseConfig, Server, ServerConfig};
use orion_testkit::{Engine, engine_tests, fresh_database};
use tokio::io::AsyncReadExt;

engine_tests!(a_server_answers_on_the_ports_it_chose_and_stops_cleanly);

async fn a_server_answers_on_the_ports_it_chose_and_stops_cleanly(engine: Engine) {
    let dir = tempfile::tempdir().unwrap();
    let Some(url) = fresh_database(engine, dir.path()).await else { return };
    let config = ServerConfig {
        smtp_listen: Some("127.0.0.1:0".into()),
        ..ServerConfig::new("127.0.0.1:0", DatabaseConfig::new(dir.path(), Some(url)))
    };
    assert!(config.background, "a server runs its background work unless told otherwise");
    let server = Server::build(config).await.expect("build");
    assert_ne!(server.port(), 0, "port 0 asks for a free port");
    assert_eq!(server.local_addr().port(), server.port());
    let smtp = server.smtp_addr().expect("the SMTP listener is bound by build");
    let base = format!("http://127.0.0.1:{}", server.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));

    let r = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let mut greeting = [0u8; 3];
    let mut s = tokio::net::TcpStream::connect(smtp).await.unwrap();
    s.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"220", "the SMTP listener greets");
    drop(s);

    stop.send(()).unwrap();
    running.await.unwrap().expect("a clean shutdown");
}
