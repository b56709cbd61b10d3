//! Docker and Podman targets: `GET /containers/NAME/json` on the Docker
//! Engine API (which `podman system service` serves too), and what its answer
//! says about the container.
#![forbid(unsafe_code)]

use super::http;
use super::why::{Api, Why};
use super::RuntimeConfig;
use crate::config::NameKind;
use crate::system::Pid;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Connecting, asking and reading the answer all end within this.
const API_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Engine {
    Docker,
    Podman,
}

impl Engine {
    pub(super) fn name(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
    /// The kind of name this engine's containers have.
    pub(super) fn name_kind(self) -> NameKind {
        match self {
            Engine::Docker => NameKind::DockerContainer,
            Engine::Podman => NameKind::PodmanContainer,
        }
    }
    pub(super) fn daemon(self) -> &'static str {
        match self {
            Engine::Docker => "docker daemon",
            Engine::Podman => "podman service",
        }
    }
}

/// What one inspect says: the running container's init and configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Inspect {
    pub id: String,
    pub pid: Pid,
    pub runtime: RuntimeConfig,
}

/// Asks the engine at `socket` about `container` and checks that it names
/// this container and that it is running.
pub(super) fn inspect(engine: Engine, socket: &Path, container: &str) -> Result<Inspect, Why> {
    engine.name_kind().check(container).map_err(Why::Name)?;
    // The name is validated above, so it needs no escaping in the path.
    let path = format!("/containers/{container}/json");
    let api = |problem| Why::Api {
        engine,
        socket: socket.to_path_buf(),
        problem,
    };
    let refused = |refused| Why::Container {
        engine,
        container: container.to_owned(),
        refused,
    };
    let response = http::get(socket, &path, API_TIMEOUT).map_err(|e| api(Api::Http(e)))?;
    match response.status {
        200 => {}
        404 => return Err(refused(Refused::NotFound)),
        status => {
            return Err(api(Api::Status {
                status,
                container: container.to_owned(),
                message: api_message(&response.body),
            }))
        }
    }
    let json: Value = serde_json::from_slice(&response.body).map_err(|e| api(Api::Json(e)))?;
    interpret(engine, container, &json).map_err(|why| match why {
        Rejected::Container(why) => refused(why),
        Rejected::Response(why) => api(Api::Unexpected(why)),
    })
}

/// Why an inspect answer was refused: the container's state, or an answer
/// that does not look like the Engine API's.
#[derive(Debug, PartialEq, Eq)]
enum Rejected {
    Container(Refused),
    Response(Answer),
}

/// Why the engine's container is not entered; written after its name.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// HTTP 404.
    NotFound,
    /// The API found `matched` (id `id`) by a short id prefix.
    Prefix {
        engine: Engine,
        matched: String,
        id: String,
    },
    Paused,
    Restarting,
    /// Its `State.Status`.
    NotRunning(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotFound => f.write_str("not found"),
            Refused::Prefix {
                engine,
                matched,
                id,
            } => write!(
                f,
                "not found (the {} matched {matched:?}, id {id}, by a short id prefix; \
                 name the container exactly or give at least 12 hex digits of its id)",
                engine.daemon()
            ),
            Refused::Paused => f.write_str("is paused"),
            Refused::Restarting => f.write_str("is restarting"),
            Refused::NotRunning(status) => {
                write!(f, "is not running (status {})", status.escape_debug())
            }
        }
    }
}

/// An inspect answer that is not the Engine API's: the field that is wrong.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Answer {
    Missing(&'static str),
    NotBoolean(&'static str),
    BadId(String),
    BadPid(i64),
    NotString(&'static str),
    NotList(&'static str),
    NonStringItem(&'static str),
    Nul(&'static str),
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Missing(key) => write!(f, "no {key}"),
            Answer::NotBoolean(key) => write!(f, "no boolean State.{key}"),
            Answer::BadId(id) => write!(f, "Id {id:?} is not 64 hex digits"),
            Answer::BadPid(pid) => write!(f, "State.Pid {pid} is not a valid pid"),
            Answer::NotString(key) => write!(f, "{key} is not a string"),
            Answer::NotList(key) => write!(f, "{key} is not a list"),
            Answer::NonStringItem(key) => write!(f, "{key} holds a non-string"),
            Answer::Nul(key) => write!(f, "{key} contains a NUL character"),
        }
    }
}

fn interpret(engine: Engine, container: &str, json: &Value) -> Result<Inspect, Rejected> {
    let response = Rejected::Response;
    let id = json
        .get("Id")
        .and_then(Value::as_str)
        .ok_or(response(Answer::Missing("Id")))?;
    if id.len() != 64 || !is_lower_hex(id) {
        return Err(response(Answer::BadId(id.to_owned())));
    }
    let name = json.get("Name").and_then(Value::as_str).unwrap_or("");
    let by_name = name.strip_prefix('/') == Some(container);
    let by_id = container.len() >= 12 && is_lower_hex(container) && id.starts_with(container);
    if !by_name && !by_id {
        // The API also resolves short id prefixes; the contract does not.
        return Err(Rejected::Container(Refused::Prefix {
            engine,
            matched: name.to_owned(),
            id: id[..12].to_owned(),
        }));
    }

    let state = json
        .get("State")
        .filter(|s| s.is_object())
        .ok_or(response(Answer::Missing("State")))?;
    let flag = |key: &'static str| {
        state
            .get(key)
            .and_then(Value::as_bool)
            .ok_or(response(Answer::NotBoolean(key)))
    };
    let (running, paused, restarting) = (flag("Running")?, flag("Paused")?, flag("Restarting")?);
    let status = state
        .get("Status")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    if paused {
        return Err(Rejected::Container(Refused::Paused));
    }
    if restarting {
        return Err(Rejected::Container(Refused::Restarting));
    }
    if !running {
        return Err(Rejected::Container(Refused::NotRunning(status.to_owned())));
    }
    let pid = state
        .get("Pid")
        .and_then(Value::as_i64)
        .ok_or(response(Answer::Missing("State.Pid")))?;
    let pid = i32::try_from(pid)
        .ok()
        .and_then(Pid::new)
        .ok_or(response(Answer::BadPid(pid)))?;

    let config = json.get("Config");
    let host_config = json.get("HostConfig");
    let runtime = RuntimeConfig {
        container_id: Some(id.to_owned()),
        user: optional_string(config, "User").map_err(response)?,
        env: string_list(config, "Env").map_err(response)?,
        working_dir: optional_string(config, "WorkingDir").map_err(response)?,
        hostname: optional_string(config, "Hostname").map_err(response)?,
        group_add: string_list(host_config, "GroupAdd").map_err(response)?,
    };
    Ok(Inspect {
        id: id.to_owned(),
        pid,
        runtime,
    })
}

/// A string field of `object`; absent, null or empty is `None`.
fn optional_string(object: Option<&Value>, key: &'static str) -> Result<Option<String>, Answer> {
    match object.and_then(|o| o.get(key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => checked(key, s).map(|s| Some(s.to_owned())),
        Some(_) => Err(Answer::NotString(key)),
    }
}

/// A list of strings of `object`; absent or null is empty.
fn string_list(object: Option<&Value>, key: &'static str) -> Result<Vec<String>, Answer> {
    match object.and_then(|o| o.get(key)) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => checked(key, s).map(str::to_owned),
                _ => Err(Answer::NonStringItem(key)),
            })
            .collect(),
        Some(_) => Err(Answer::NotList(key)),
    }
}

/// These become exec arguments and environment: a NUL cannot be passed on.
fn checked<'a>(key: &'static str, s: &'a str) -> Result<&'a str, Answer> {
    if s.contains('\0') {
        return Err(Answer::Nul(key));
    }
    Ok(s)
}

/// The `message` of an Engine API error body, for the user.
fn api_message(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    match parsed
        .as_ref()
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
    {
        Some(m) => m.escape_debug().to_string(),
        None => "no message".into(),
    }
}

fn is_lower_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "f79a5481c8bc5a613f93d9d493a199960390154dfa92021efa8b06949b11b038";

    fn sample() -> Value {
        json!({
            "Id": ID,
            "Name": "/web1",
            "State": {"Status": "running", "Running": true, "Paused": false,
                      "Restarting": false, "Pid": 12478},
            "Config": {"User": "app", "Env": ["FOO=bar", "PATH=/bin"],
                       "WorkingDir": "/home/app", "Hostname": "hx"},
            "HostConfig": {"GroupAdd": ["tty"]}
        })
    }

    fn with(mut v: Value, pointer: &str, new: Value) -> Value {
        *v.pointer_mut(pointer).unwrap() = new;
        v
    }

    fn container_why(r: Result<Inspect, Rejected>) -> String {
        match r {
            Err(Rejected::Container(why)) => why.to_string(),
            other => panic!("expected a container refusal, got {other:?}"),
        }
    }

    #[test]
    fn running_container_by_name_and_id_prefix() {
        let expected = Inspect {
            id: ID.into(),
            pid: Pid::new(12478).unwrap(),
            runtime: RuntimeConfig {
                container_id: Some(ID.into()),
                user: Some("app".into()),
                env: vec!["FOO=bar".into(), "PATH=/bin".into()],
                working_dir: Some("/home/app".into()),
                hostname: Some("hx".into()),
                group_add: vec!["tty".into()],
            },
        };
        assert_eq!(
            interpret(Engine::Docker, "web1", &sample()),
            Ok(expected.clone())
        );
        assert_eq!(
            interpret(Engine::Docker, &ID[..12], &sample()),
            Ok(expected.clone())
        );
        assert_eq!(interpret(Engine::Docker, ID, &sample()), Ok(expected));
    }

    #[test]
    fn name_must_match_exactly() {
        // Found by the API through a short prefix, or a different name.
        for asked in ["f79a5", &ID[..11], "web", "F79A5481C8BC"] {
            let why = container_why(interpret(Engine::Docker, asked, &sample()));
            assert!(why.starts_with("not found"), "{asked}: {why}");
        }
        let v = with(sample(), "/Id", json!(format!("0{}", &ID[1..])));
        assert!(interpret(Engine::Docker, &ID[..12], &v).is_err());
    }

    #[test]
    fn state_refusals() {
        let s = sample();
        let v = with(
            with(s.clone(), "/State/Running", json!(false)),
            "/State/Status",
            json!("exited"),
        );
        assert_eq!(
            container_why(interpret(Engine::Docker, "web1", &v)),
            "is not running (status exited)"
        );
        let v = with(s.clone(), "/State/Paused", json!(true));
        assert_eq!(
            container_why(interpret(Engine::Docker, "web1", &v)),
            "is paused"
        );
        let v = with(s.clone(), "/State/Restarting", json!(true));
        assert_eq!(
            container_why(interpret(Engine::Podman, "web1", &v)),
            "is restarting"
        );
    }

    #[test]
    fn unexpected_answers() {
        let s = sample();
        for v in [
            json!([]),
            with(s.clone(), "/Id", json!("abc")),
            with(s.clone(), "/State", json!(null)),
            with(s.clone(), "/State/Paused", json!("no")),
            with(s.clone(), "/State/Pid", json!(0)),
            with(s.clone(), "/State/Pid", json!(4194305)),
            with(s.clone(), "/State/Pid", json!(-1)),
            with(s.clone(), "/Config/Env", json!(["A=1", 2])),
            with(s.clone(), "/Config/User", json!(7)),
            with(s.clone(), "/Config/WorkingDir", json!("/a\u{0}b")),
            with(s.clone(), "/HostConfig/GroupAdd", json!("tty")),
        ] {
            let r = interpret(Engine::Docker, "web1", &v);
            assert!(matches!(r, Err(Rejected::Response(_))), "{v}: {r:?}");
        }
    }

    #[test]
    fn empty_and_null_fields() {
        let v = json!({
            "Id": ID, "Name": "/web1",
            "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false, "Pid": 1},
            "Config": {"User": "", "Env": null, "WorkingDir": "", "Hostname": ""},
            "HostConfig": {"GroupAdd": null}
        });
        let got = interpret(Engine::Docker, "web1", &v).unwrap();
        assert_eq!(
            got.runtime,
            RuntimeConfig {
                container_id: Some(ID.into()),
                ..RuntimeConfig::default()
            }
        );
    }

    #[test]
    fn refuses_invalid_name_before_connecting() {
        let err = inspect(Engine::Docker, Path::new("/nonexistent.sock"), "../x")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid docker container name \"../x\""),
            "{err}"
        );
        let err = inspect(Engine::Docker, Path::new("/nonexistent.sock"), "web1")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("docker daemon at /nonexistent.sock not answering: connect: "),
            "{err}"
        );
    }

    #[test]
    fn api_error_message() {
        assert_eq!(api_message(br#"{"message":"bad \"x\""}"#), "bad \\\"x\\\"");
        assert_eq!(api_message(b"<html>"), "no message");
    }
}
