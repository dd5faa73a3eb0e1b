//! `jwtd user import`: an export of Django's auth_user through the real binary, run twice,
//! then logins with the imported Django hashes against a running server.

use crate::cli::{Site, login};
use crate::django_login::cheap_vectors;

/// The `user_id` claim of the access token a successful login answered with.
fn user_id_of(reply: &crate::cli::Reply) -> String {
    use base64::Engine as _;
    let body: serde_json::Value = serde_json::from_str(&reply.text).unwrap();
    let access = body["access"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["user_id"].as_str().unwrap().to_owned()
}

fn csv_field(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[tokio::test]
async fn a_csv_export_imports_once_refuses_bad_rows_by_line_and_logs_in() {
    let site = Site::new(&[]);
    let vectors = cheap_vectors();
    let (pbkdf2, bcrypt, argon2) = (&vectors[0], &vectors[2], &vectors[1]);
    // Other columns than the three, as a whole-table export has them, are ignored.
    let csv = [
        "id,password,last_login,username,is_active".to_owned(),
        format!("1,{},,alice,t", pbkdf2.encoded),
        format!("2,{},,bob,f", bcrypt.encoded),
        // Quoted, padded and spread over two lines: the next row's line number is 5.
        format!("3,{},,\"  carol\n\",1", csv_field(&argon2.encoded)),
        format!("4,{},,,1", pbkdf2.encoded),
        "5,md5$salt$0f3e5ba6d7d7a5f4a0b0c7e1a2a6c0c1,,dave,1".to_owned(),
        format!("6,{},,erin,maybe", pbkdf2.encoded),
        format!("7,{},,alice,1", bcrypt.encoded),
        "8,!unusable,,frank,1".to_owned(),
        "9,short".to_owned(),
    ]
    .join("\n");
    let file = site.dir.join("auth_user.csv");
    std::fs::write(&file, csv).unwrap();
    let path = file.to_str().unwrap();

    let refused = [
        "line 6: refused: the username must be 1 to 150 characters",
        "line 7: refused: password of \"dave\": unsupported password hash scheme \"md5\"",
        "line 8: refused: is_active of \"erin\" is neither true nor false",
        "line 9: refused: \"alice\" is already on line 2",
        "line 10: refused: password of \"frank\": Django's unusable password (an account without a password)",
        "line 11: refused: fewer columns than the header",
    ];
    for (run, counts) in [
        (1, "3 created, 0 updated, 0 unchanged, 6 refused"),
        (2, "0 created, 0 updated, 3 unchanged, 6 refused"),
    ] {
        let output = site.jwtd(&["user", "import", path], "");
        assert!(
            !output.status.success(),
            "run {run}: refused rows fail the command"
        );
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("{path}: {counts}\n"),
            "run {run}"
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().collect::<Vec<_>>(), refused, "run {run}");
        for vector in [pbkdf2, bcrypt, argon2] {
            assert!(
                !stderr.contains(&vector.encoded),
                "hashes are never printed"
            );
        }
    }

    let server = site.serve();
    for (user, vector, status) in [
        ("alice", pbkdf2, 200),
        ("bob", bcrypt, 401),
        ("carol", argon2, 200),
    ] {
        let reply = login(&server, user, &vector.password, "import test").await;
        assert_eq!(reply.status, status, "{user}: {}", reply.text);
    }
    // Django's ids are kept: tokens simplejwt issued name the same users in jwtd.
    let carol = login(&server, "carol", &argon2.password, "import test").await;
    assert_eq!(user_id_of(&carol), "3");
    let alice = login(&server, "alice", &pbkdf2.password, "import test").await;
    assert_eq!(user_id_of(&alice), "1");
    let unicode = &vectors[3].password;
    assert_ne!(unicode, &pbkdf2.password);
    let wrong = login(&server, "alice", unicode, "import test").await;
    assert_eq!(wrong.status, 401);
}

#[tokio::test]
async fn a_dumpdata_json_export_updates_what_changed_and_ends_a_deactivated_users_sessions() {
    let site = Site::new(&[]);
    let vectors = cheap_vectors();
    let (old, new) = (&vectors[0], &vectors[5]);
    let entry = |pk: i64, username: &str, hash: &str, active: bool| {
        serde_json::json!({
            "model": "auth.user",
            "pk": pk,
            "fields": { "password": hash, "username": username, "is_active": active, "is_staff": false },
        })
    };
    let file = site.dir.join("users.export");
    let write = |entries: Vec<serde_json::Value>| {
        std::fs::write(&file, serde_json::to_vec_pretty(&entries).unwrap()).unwrap();
    };
    let path = file.to_str().unwrap();
    write(vec![
        entry(1, "alice", &old.encoded, true),
        entry(2, "bob", &old.encoded, true),
        serde_json::json!({ "username": "carol", "password": old.encoded, "is_active": 1 }),
    ]);
    assert_eq!(
        site.jwtd_ok(&["user", "import", path], ""),
        format!("{path}: 3 created, 0 updated, 0 unchanged, 0 refused\n")
    );

    let server = site.serve();
    let session = login(&server, "bob", &old.password, "laptop").await;
    assert_eq!(session.status, 200, "{}", session.text);
    write(vec![
        entry(1, "alice", &new.encoded, true),
        entry(2, "bob", &old.encoded, false),
        serde_json::json!({ "username": "carol", "password": old.encoded, "is_active": 1 }),
        serde_json::json!({ "username": "dave" }),
    ]);
    let output = site.jwtd(&["user", "import", path], "");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{path}: 0 created, 2 updated, 1 unchanged, 1 refused\n")
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "entry 4: refused: needs the keys username, password (strings) and is_active\n"
    );
    let events = site.jwtd_ok(&["events", "--user", "bob", "--json"], "");
    assert!(events.contains("\"user_deactivated\""), "{events}");
    assert_eq!(
        login(&server, "alice", &old.password, "t").await.status,
        401
    );
    assert_eq!(
        login(&server, "alice", &new.password, "t").await.status,
        200
    );
    assert_eq!(login(&server, "bob", &old.password, "t").await.status, 401);
}

#[tokio::test]
async fn an_id_that_belongs_to_another_user_is_refused_and_new_users_number_after_the_import() {
    let site = Site::new(&[]);
    let vectors = cheap_vectors();
    let hash = &vectors[0].encoded;
    let file = site.dir.join("auth_user.csv");
    std::fs::write(
        &file,
        format!("id,username,password,is_active\n40,alice,{hash},1\n41,bob,{hash},1\n"),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(
        site.jwtd_ok(&["user", "import", path], ""),
        format!("{path}: 2 created, 0 updated, 0 unchanged, 0 refused\n")
    );
    std::fs::write(
        &file,
        format!(
            "id,username,password,is_active\n40,carol,{hash},1\n7,bob,{hash},1\nx,dave,{hash},1\n"
        ),
    )
    .unwrap();
    let output = site.jwtd(&["user", "import", path], "");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{path}: 0 created, 0 updated, 0 unchanged, 3 refused\n")
    );
    assert_eq!(
        String::from_utf8(output.stderr)
            .unwrap()
            .lines()
            .collect::<Vec<_>>(),
        [
            "line 2: refused: id 40 of \"carol\" already belongs to \"alice\"",
            "line 3: refused: \"bob\" already has id 41 here, not 7",
            "line 4: refused: id of \"dave\" is not a positive whole number",
        ]
    );
    // A user created afterwards gets an id past the imported ones.
    site.jwtd_ok(
        &["user", "create", "erin", "--password-stdin"],
        "erin password\n",
    );
    let server = site.serve();
    let erin = login(&server, "erin", "erin password", "t").await;
    assert_eq!(erin.status, 200, "{}", erin.text);
    assert!(user_id_of(&erin).parse::<i64>().unwrap() > 41);
}
