//! Outgoing mail: SMTP through lettre when `SMTP_URL` is set, otherwise RFC 5322 `.eml` files in
//! `DATA_DIR/outbox` (one file per message, named by message id) for development and tests.

use std::path::PathBuf;

use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    Message,
};

use super::smtp_pool::{SendError, SmtpPool, SmtpTarget};

/// Connections the server-wide SMTP pool opens at most.
pub const MAX_SMTP_CONNECTIONS: usize = 32;

/// A message to send.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutgoingEmail {
    /// Recipient address.
    pub to: String,
    /// Recipient display name.
    pub to_name: Option<String>,
    /// From override; the configured MAIL_FROM otherwise.
    pub from: Option<String>,
    /// Reply-To.
    pub reply_to: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (sent as multipart/alternative with the text).
    pub html: Option<String>,
}

/// Mail failures.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address did not parse.
    #[error("invalid address {0}")]
    Address(String),
    /// Building the message failed.
    #[error("message: {0}")]
    Build(String),
    /// The SMTP server refused or was unreachable.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The SMTP server refused the message for good (a 5xx reply): retrying cannot help.
    #[error("smtp rejected: {0}")]
    Rejected(String),
    /// The SMTP server could not be reached or the connection broke (no reply to blame).
    #[error("smtp unreachable: {0}")]
    Unreachable(String),
    /// Writing the file failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl MailError {
    /// Whether another attempt may succeed (transient SMTP/IO problems).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MailError::Smtp(_) | MailError::Io(_) | MailError::Unreachable(_)
        )
    }
}

#[derive(Clone)]
enum Transport {
    Smtp(SmtpPool),
    File(PathBuf),
}

/// The mailer.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
}

impl Mailer {
    /// From `SMTP_URL` (e.g. `smtp://host:1025`, `smtps://user:pass@host`) or the outbox dir.
    pub fn new(smtp_url: Option<&str>, outbox_dir: PathBuf, from: &str) -> Result<Self, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|_| MailError::Address(from.to_string()))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(SmtpPool::new(
                SmtpTarget::from_url(url).map_err(MailError::Smtp)?,
                MAX_SMTP_CONNECTIONS,
            )),
            None => Transport::File(outbox_dir),
        };
        Ok(Mailer { transport, from })
    }

    /// `smtp` or `file`.
    pub fn kind(&self) -> &'static str {
        match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::File(_) => "file",
        }
    }

    /// Builds the RFC 5322 message and its Message-ID.
    pub fn build(&self, email: &OutgoingEmail) -> Result<(Message, String), MailError> {
        let from = match &email.from {
            Some(f) => f.parse().map_err(|_| MailError::Address(f.clone()))?,
            None => self.from.clone(),
        };
        let to_addr = email
            .to
            .parse()
            .map_err(|_| MailError::Address(email.to.clone()))?;
        let to = Mailbox::new(email.to_name.clone(), to_addr);
        let domain = from.email.domain().to_string();
        let message_id = format!("<{}@{}>", uuid::Uuid::now_v7().simple(), domain);
        let mut builder = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id.clone()));
        if let Some(r) = &email.reply_to {
            builder = builder.reply_to(r.parse().map_err(|_| MailError::Address(r.clone()))?);
        }
        let message = match &email.html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(email.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(html.clone()),
                    ),
            ),
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(email.text.clone()),
        }
        .map_err(|e| MailError::Build(e.to_string()))?;
        Ok((message, message_id))
    }

    /// The configured default From.
    pub fn default_from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends a message built by the caller (campaigns set their own Message-ID and
    /// List-Unsubscribe headers). `message_id` names the `.eml` file in file mode. A 5xx reply is
    /// [`MailError::Rejected`]; a 4xx reply is [`MailError::Smtp`] and a connection problem
    /// [`MailError::Unreachable`] (both transient).
    pub async fn send_prepared(&self, message: Message, message_id: &str) -> Result<(), MailError> {
        match &self.transport {
            Transport::Smtp(pool) => send_pooled(pool, &message).await,
            Transport::File(dir) => write_eml(dir, &message, message_id).await,
        }
    }

    /// Sends the message; returns its Message-ID.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<String, MailError> {
        let (message, message_id) = self.build(email)?;
        match &self.transport {
            Transport::Smtp(pool) => {
                pool.send(message.envelope(), &message.formatted())
                    .await
                    .map_err(|e| MailError::Smtp(e.to_string()))?;
            }
            Transport::File(dir) => write_eml(dir, &message, &message_id).await?,
        }
        Ok(message_id)
    }
}

/// Sends `message` over `pool`: a 5xx reply is [`MailError::Rejected`], a 4xx reply
/// [`MailError::Smtp`], anything else (no reply to blame) [`MailError::Unreachable`].
pub async fn send_pooled(pool: &SmtpPool, message: &Message) -> Result<(), MailError> {
    pool.send(message.envelope(), &message.formatted())
        .await
        .map_err(|e: SendError| {
            if e.is_permanent() {
                MailError::Rejected(e.to_string())
            } else if e.is_transient() {
                MailError::Smtp(e.to_string())
            } else {
                MailError::Unreachable(e.to_string())
            }
        })
}

/// Writes `message` as `DIR/<message id>.eml` (write then rename, so readers never see half a
/// message).
async fn write_eml(
    dir: &std::path::Path,
    message: &Message,
    message_id: &str,
) -> Result<(), MailError> {
    tokio::fs::create_dir_all(dir).await?;
    let name: String = message_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '@' || *c == '.')
        .collect();
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, message.formatted()).await?;
    tokio::fs::rename(&tmp, dir.join(format!("{name}.eml"))).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn file_transport_writes_eml() {
        let dir = std::env::temp_dir().join(format!("lg-mail-{}", uuid::Uuid::now_v7()));
        let m = Mailer::new(None, dir.clone(), "Leadgraph <no-reply@example.com>").unwrap();
        let id = m
            .send(&OutgoingEmail {
                to: "ada@example.com".into(),
                to_name: Some("Ada".into()),
                from: None,
                reply_to: None,
                subject: "Hello".into(),
                text: "plain body".into(),
                html: Some("<p>html body</p>".into()),
            })
            .await
            .unwrap();
        assert!(id.ends_with("@example.com>"));
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(files.len(), 1);
        let raw = std::fs::read_to_string(files[0].as_ref().unwrap().path()).unwrap();
        assert!(raw.contains("Subject: Hello") && raw.contains("plain body"));
        assert!(raw.contains("multipart/alternative"));
        let _ = std::fs::remove_dir_all(dir);
        assert!(m
            .send(&OutgoingEmail {
                to: "not an address".into(),
                ..sample()
            })
            .await
            .is_err());
    }

    fn sample() -> OutgoingEmail {
        OutgoingEmail {
            to: "a@b.c".into(),
            to_name: None,
            from: None,
            reply_to: None,
            subject: "s".into(),
            text: "t".into(),
            html: None,
        }
    }
}
