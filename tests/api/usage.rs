//! The binary's usage: `--help` on every command and subcommand, `--version`, and the
//! documented exit codes (0 ok, 1 runtime failure, 2 bad configuration or usage).

use std::process::{Command, Output};

use crate::cli::Site;
use crate::smoke::jwtd_binary;

fn jwtd(args: &[&str]) -> Output {
    Command::new(jwtd_binary())
        .args(args)
        .env_remove("JWTD_CONFIG")
        .output()
        .expect("run jwtd")
}

/// The subcommands a help text lists under `Commands:` (without `help` itself).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_has_help_and_the_binary_a_version() {
    let version = jwtd(&["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout),
        format!("jwtd {}\n", env!("CARGO_PKG_VERSION"))
    );
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = Vec::new();
    while let Some(path) = pending.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let output = jwtd(&args);
        let help = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.code(), Some(0), "jwtd {args:?}: {output:?}");
        assert!(help.contains("Usage: jwtd"), "jwtd {args:?}:\n{help}");
        for name in subcommands(&help) {
            let mut child = path.clone();
            child.push(name);
            pending.push(child);
        }
        seen.push(path.join(" "));
    }
    for expected in [
        "",
        "serve",
        "migrate",
        "user create",
        "user set-password",
        "sessions revoke",
        "flush-expired",
        "events",
        "config check",
    ] {
        assert!(
            seen.iter().any(|got| got == expected),
            "{expected:?} not in {seen:?}"
        );
    }
}

#[test]
fn usage_and_configuration_errors_exit_2_and_runtime_failures_exit_1() {
    for args in [
        vec![],
        vec!["no-such-command"],
        vec!["serve", "--no-such-flag"],
        vec!["serve", "--bind", "not-an-address"],
        vec!["flush-expired", "--batch-size", "0"],
    ] {
        let output = jwtd(&args);
        assert_eq!(output.status.code(), Some(2), "jwtd {args:?}: {output:?}");
        assert!(output.stdout.is_empty(), "jwtd {args:?}: {output:?}");
    }

    let site = Site::new(&[("JWTD_ACCESS_TOKEN_LIFETIME", "soon")]);
    let output = site.jwtd(&["migrate"], "");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("JWTD_ACCESS_TOKEN_LIFETIME"), "{stderr}");

    let site = Site::new(&[]);
    let output = site.jwtd(&["user", "activate", "nobody"], "");
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        "jwtd: no user named \"nobody\"\n"
    );
}
