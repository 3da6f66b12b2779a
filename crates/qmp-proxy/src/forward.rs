//! One listener's command path: policy, audit, then the command goes to
//! the upstream QEMU with its descriptors and its `exec-oob` choice, and
//! QEMU's reply comes back as QEMU wrote it. Ids need no table here: the
//! server echoes each client's own id, the client numbers the upstream
//! requests.

use std::sync::Arc;

use qmp_client::{CallOptions, Client, Error as ClientError};
use qmp_server::{Call, CommandResult, EncodedJson, Reply};
use qmp_wire::{Map, MemberOrder, QmpError, Value};

use crate::audit::{redact, AuditLog, Direction, RedactRule};
use crate::policy::Policy;

/// What one listener's forwarding handler holds.
pub(crate) struct Forwarder {
    pub(crate) upstream: Client,
    pub(crate) listener: String,
    pub(crate) policy: Policy,
    pub(crate) audit: Option<Arc<AuditLog>>,
    pub(crate) redact: Arc<Vec<RedactRule>>,
}

impl Forwarder {
    /// Handles one command. Everything up to the upstream send happens
    /// when the returned future is first polled, so a session's pipelined
    /// commands reach QEMU in the order the session starts them.
    pub(crate) async fn forward(self: Arc<Self>, call: Call) -> CommandResult {
        let client = call.session.id();
        let verdict = self.policy.check(&call.command);
        let id = call.id.clone();
        if let Some(audit) = &self.audit {
            let refused = verdict.err().map(|reason| ("refused", Value::from(reason)));
            audit.record(
                &self.listener,
                Some(client),
                Direction::In,
                self.request_value(&call),
                refused.as_slice(),
            );
        }
        let result = match verdict {
            Err(reason) => {
                tracing::warn!(
                    listener = %self.listener,
                    client,
                    command = %call.command,
                    "refused by policy: {reason}"
                );
                Err(QmpError::generic(format!(
                    "The command {} has been refused by the proxy's policy for {}: {reason}",
                    call.command, self.listener
                )))
            }
            Ok(()) => self.send_upstream(call).await,
        };
        if let Some(audit) = &self.audit {
            self.audit_reply(audit, client, &id, &result);
        }
        result
    }

    async fn send_upstream(&self, call: Call) -> CommandResult {
        // Descriptors travel with their command, in band or out of band.
        let options = CallOptions::new().fds(call.session.take_received_fds());
        // No arguments and `{}` mean the same to QEMU: send the shorter.
        let arguments = (!call.arguments.is_empty()).then_some(call.arguments);
        let result = if call.out_of_band {
            let options = options.out_of_band();
            self.upstream
                .execute_with(&call.command, arguments, options)
                .await
        } else {
            self.upstream
                .execute_with(&call.command, arguments, options)
                .await
        };
        match result {
            // QEMU's bytes as QEMU wrote them: its member order is kept.
            Ok(value) => Ok(Reply::Encoded(Arc::new(EncodedJson::new(
                value,
                MemberOrder::Insertion,
            )))),
            Err(ClientError::Qmp(error)) => Err(error),
            // QEMU went away mid-command: like QEMU's own close, no reply.
            Err(ClientError::Disconnected(_) | ClientError::ChildExited { .. }) => {
                Ok(Reply::Nothing)
            }
            Err(other) => Err(QmpError::generic(format!("qmp proxy: {other}"))),
        }
    }

    /// The request as the audit log shows it: secrets redacted.
    fn request_value(&self, call: &Call) -> Value {
        let mut request = Map::new();
        let key = if call.out_of_band {
            "exec-oob"
        } else {
            "execute"
        };
        request.insert(key, call.command.as_str());
        if !call.arguments.is_empty() {
            request.insert(
                "arguments",
                redact(&self.redact, &call.command, &call.arguments),
            );
        }
        if let Some(id) = &call.id {
            request.insert("id", id.clone());
        }
        Value::Object(request)
    }

    fn audit_reply(
        &self,
        audit: &AuditLog,
        client: u64,
        id: &Option<Value>,
        result: &CommandResult,
    ) {
        let mut reply = Map::new();
        match result {
            Ok(Reply::Nothing) => return,
            Ok(Reply::Encoded(encoded)) => reply.insert("return", encoded.value().clone()),
            Ok(Reply::Value(value)) => reply.insert("return", value.clone()),
            Err(error) => {
                let mut e = Map::new();
                e.insert("class", error.class.as_str());
                e.insert("desc", error.desc.as_str());
                reply.insert("error", e)
            }
        };
        if let Some(id) = id {
            reply.insert("id", id.clone());
        }
        audit.record(
            &self.listener,
            Some(client),
            Direction::Out,
            Value::Object(reply),
            &[],
        );
    }
}
