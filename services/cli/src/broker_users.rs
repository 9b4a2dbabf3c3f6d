//! `refroute broker-users`: the shell lines that give each service its own RabbitMQ user, with
//! the permissions [`topology::permissions`] states (its own queues and the two exchanges), and
//! export each service's login for the services started after them. The quick start runs them
//! with `eval`; a deployment reads them, and keeps the passwords in its secret store.

use anyhow::Context;
use refroute_platform::db::SERVICES;
use refroute_platform::messaging::topology;
use refroute_platform::settings::AmqpSettings;

/// `prefix` + service is each user's name (`refroute-intake`); the passwords are fresh.
pub fn render(amqp: &AmqpSettings, prefix: &str) -> anyhow::Result<String> {
    let uri = amqp.uri.expose();
    let vhost = uri
        .parse::<lapin::uri::AMQPUri>()
        .map_err(|e| anyhow::anyhow!("amqp.uri is not an AMQP URI: {e}"))?
        .vhost;
    let mut out =
        String::from("# Each refroute service's own RabbitMQ user, allowed its own queues only.\n");
    for service in SERVICES {
        let user = format!("{prefix}{service}");
        let password = uuid::Uuid::new_v4().simple().to_string();
        let p = topology::permissions(service, &amqp.exchange);
        let login = with_login(uri, &user, &password).context("amqp.uri has no host")?;
        let upper = service.to_uppercase();
        out.push_str(&format!(
            "rabbitmqctl add_user {u} {pw} >/dev/null 2>&1 || rabbitmqctl change_password {u} {pw} >/dev/null\n\
             rabbitmqctl set_permissions -p {v} {u} {c} {w} {r} >/dev/null\n\
             export REFROUTE__AMQP__LOGINS__{upper}={login}\n\
             export REFROUTE__AMQP__USERS__{upper}={u}\n",
            u = quote(&user),
            pw = quote(&password),
            v = quote(&vhost),
            c = quote(&p.configure),
            w = quote(&p.write),
            r = quote(&p.read),
            login = quote(&login),
        ));
    }
    Ok(out)
}

/// `uri` with `user:password@` in place of its user and password.
fn with_login(uri: &str, user: &str, password: &str) -> Option<String> {
    let (scheme, after) = uri.split_once("://")?;
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let host_start = after[..authority_end].rfind('@').map_or(0, |at| at + 1);
    Some(format!(
        "{scheme}://{user}:{password}@{}",
        &after[host_start..]
    ))
}

/// Single-quoted for the shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_service_gets_its_own_user_permissions_and_login() {
        let mut amqp = refroute_platform::Settings::defaults().unwrap().amqp;
        amqp.uri = refroute_platform::Secret::new("amqp://guest:guest@127.0.0.1:5672/refroute-x");
        let text = render(&amqp, "refroute-").unwrap();
        let p = topology::permissions("transfer", "refroute.events");
        assert!(text.contains(&format!(
            "rabbitmqctl set_permissions -p 'refroute-x' 'refroute-transfer' '{}' '{}' '{}'",
            p.configure, p.write, p.read
        )));
        assert!(
            text.contains("export REFROUTE__AMQP__USERS__NOTIFICATION='refroute-notification'")
        );
        let login = text
            .lines()
            .find_map(|l| l.strip_prefix("export REFROUTE__AMQP__LOGINS__INTAKE='"))
            .unwrap();
        assert!(login.starts_with("amqp://refroute-intake:"), "{login}");
        assert!(login.ends_with("@127.0.0.1:5672/refroute-x'"), "{login}");
        assert!(!text.contains("guest"), "{text}");
    }
}
