//! What reaches the database: a SHA-256 per refresh token, never a token's text, no row for
//! access tokens, and the index the expired-token flush relies on.

use axum::http::StatusCode;
use entity::outstanding_tokens;
use integration_tests::{Backend, TestApp, backend_tests, claims};
use sea_orm::{EntityTrait, QueryOrder};
use sha2::{Digest, Sha256};

fn sha256_hex(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

async fn rows(app: &TestApp) -> Vec<outstanding_tokens::Model> {
    outstanding_tokens::Entity::find()
        .order_by_asc(outstanding_tokens::Column::Id)
        .all(&app.state.db.read)
        .await
        .unwrap()
}

/// Text columns of every table a token could leak into.
const TEXT_COLUMNS: [(&str, &str); 10] = [
    ("outstanding_tokens", "jti"),
    ("outstanding_tokens", "family_id"),
    ("outstanding_tokens", "parent_jti"),
    ("outstanding_tokens", "token_hash"),
    ("blacklisted_tokens", "reason"),
    ("token_families", "id"),
    ("token_families", "revoke_reason"),
    ("auth_events", "kind"),
    ("auth_events", "username"),
    ("auth_events", "family_id"),
];

async fn assert_stored_nowhere(app: &TestApp, token: &str) {
    // The signature alone identifies a token; no column may hold it.
    let signature = token.rsplit('.').next().unwrap();
    for (table, column) in TEXT_COLUMNS {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE {column} LIKE '%{signature}%'");
        assert_eq!(app.count(&sql).await, 0, "{table}.{column} holds a token");
    }
}

async fn outstanding_rows_store_the_sha256_of_each_refresh_token_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (first, first_access) = app.alice().await;
    let second = app.refresh(&first).await;
    let (second, second_access) = (second.str("refresh"), second.str("access"));

    let stored = rows(&app).await;
    assert_eq!(
        stored.len(),
        2,
        "one row per refresh token, none for access tokens"
    );
    for (row, token) in stored.iter().zip([&first, &second]) {
        let claims = claims(token);
        assert_eq!(row.token_hash, sha256_hex(token));
        assert_eq!(row.token_hash.len(), 64);
        assert!(
            row.token_hash
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(row.jti, claims["jti"].as_str().unwrap());
        assert_eq!(row.family_id, claims["sid"].as_str().unwrap());
        assert_eq!(Some(row.expires_at), claims["exp"].as_i64());
        assert_eq!(Some(row.created_at), claims["iat"].as_i64());
        assert_eq!(row.user_id, Some(1));
    }
    assert_eq!(stored[0].parent_jti, None);
    assert_eq!(
        stored[1].parent_jti.as_deref(),
        Some(stored[0].jti.as_str())
    );
    for access in [&first_access, &second_access] {
        let jti = claims(access)["jti"].as_str().unwrap().to_owned();
        let sql = format!("SELECT COUNT(*) FROM outstanding_tokens WHERE jti = '{jti}'");
        assert_eq!(app.count(&sql).await, 0, "access tokens are never stored");
    }
    app.logout(&second).await.assert(StatusCode::OK, "{}");
    for token in [&first, &second, &first_access, &second_access] {
        assert_stored_nowhere(&app, token).await;
    }
}

async fn a_token_whose_hash_does_not_match_its_row_is_invalid(backend: Backend) {
    // The row is looked up by jti; the hash is what proves the token is the one issued.
    let app = TestApp::spawn(backend).await;
    let (refresh, _) = app.alice().await;
    app.execute(&format!(
        "UPDATE outstanding_tokens SET token_hash = '{}'",
        sha256_hex("some other token")
    ))
    .await;
    app.refresh(&refresh)
        .await
        .assert_token_not_valid("Token is invalid");
}

async fn expires_at_is_indexed(backend: Backend) {
    let sql = match &backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND tbl_name = 'outstanding_tokens' AND sql LIKE '%expires_at%'"
        }
        // From the catalogs alone: `pg_indexes` calls pg_get_indexdef() on indexes of every
        // schema, which fails on one that a concurrent test is dropping.
        Backend::Postgres(_) => {
            "SELECT COUNT(*) FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
             WHERE n.nspname = current_schema() AND t.relname = 'outstanding_tokens' \
               AND a.attname = 'expires_at'"
        }
        Backend::Mysql(_) => {
            "SELECT COUNT(*) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = 'outstanding_tokens' \
             AND column_name = 'expires_at' AND seq_in_index = 1"
        }
    };
    let app = TestApp::spawn(backend.clone()).await;
    assert!(app.count(sql).await >= 1, "no index leads with expires_at");
}

/// No query reads outstanding tokens by user, so no index on `user_id` costs every rotation a
/// write (MySQL keeps the one its foreign key requires); deleting a user row still leaves
/// their tokens' rows with no user, through the foreign key.
async fn outstanding_user_id_has_no_index_and_deleting_a_user_keeps_the_rows(backend: Backend) {
    let sql = match &backend {
        Backend::Sqlite => Some(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND tbl_name = 'outstanding_tokens' AND sql LIKE '%user_id%'",
        ),
        Backend::Postgres(_) => Some(
            "SELECT COUNT(*) FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0] \
             WHERE n.nspname = current_schema() AND t.relname = 'outstanding_tokens' \
               AND a.attname = 'user_id'",
        ),
        Backend::Mysql(_) => None,
    };
    let app = TestApp::spawn(backend.clone()).await;
    if let Some(sql) = sql {
        assert_eq!(
            app.count(sql).await,
            0,
            "an index on outstanding_tokens.user_id"
        );
    }
    let (refresh, _) = app.alice().await;
    app.refresh(&refresh).await.assert_ok();
    app.delete_user(1).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM outstanding_tokens WHERE user_id IS NULL")
            .await,
        2
    );
}

backend_tests!(
    outstanding_user_id_has_no_index_and_deleting_a_user_keeps_the_rows,
    outstanding_rows_store_the_sha256_of_each_refresh_token_only,
    a_token_whose_hash_does_not_match_its_row_is_invalid,
    expires_at_is_indexed,
);

/// Each pooled SQLite connection, the writer's and the readers', keeps a page cache of 256
/// KiB instead of SQLite's 2 MiB: a long-lived server fills every cache it has, and three
/// of the default size would be a fifth of its memory budget.
#[tokio::test]
async fn sqlite_pooled_connections_keep_a_small_page_cache() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn(Backend::Sqlite).await;
    for (pool, connection) in [("read", &app.state.db.read), ("write", &app.state.db.write)] {
        let row = connection
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA cache_size",
            ))
            .await
            .unwrap()
            .unwrap();
        let kib: i64 = row.try_get_by_index(0).unwrap();
        assert_eq!(kib, -256, "cache_size of the {pool} pool");
    }
}
