use super::outcome::outcome_of;
use super::*;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn engine_is_send_and_sync() {
    assert_send_sync::<PolicyEngine>();
}

#[test]
fn deny_values() {
    assert_eq!(outcome_of(&Value::Undefined), Outcome::Pass);
    assert_eq!(outcome_of(&Value::from(Vec::<Value>::new())), Outcome::Pass);
    let v = Value::from_json_str(r#"["b", {"msg": "a", "startline": 3, "endline": 4}]"#).unwrap();
    let Outcome::Fail(f) = outcome_of(&v) else {
        panic!()
    };
    assert_eq!(f[0].message, "b");
    assert_eq!(
        (f[1].message.as_str(), f[1].start_line, f[1].end_line),
        ("a", 3, 4)
    );
    assert!(matches!(
        outcome_of(&Value::from(1u64)),
        Outcome::Error(EvalError::BadResult(_))
    ));
}
