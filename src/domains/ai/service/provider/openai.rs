//! An OpenAI-compatible chat-completions client (OpenAI, OpenRouter, Ollama, vLLM):
//! `POST {OPENAI_BASE_URL}/chat/completions` with a `json_schema` response format. The request
//! and response bodies are async-openai's wire types (`async_openai::types::chat`); the HTTP
//! exchange goes through `state.operator_http` (the outbound client that trusts the
//! operator-configured base URL, e.g. Ollama on 127.0.0.1, and guards everything else) rather
//! than async-openai's own client, so outbound rules, timeouts and the retry policy are the
//! project's.
//! The answer is validated against the task's shape; an invalid one gets one repair request
//! (the error is sent back). 429/5xx/timeouts are retried with the scraping sources' backoff
//! (honouring `Retry-After`); when the primary model still fails, the fallback model is asked.

use std::time::Duration;

use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionResponse, ResponseFormat,
    ResponseFormatJsonSchema,
};
use async_trait::async_trait;
use serde_json::Value;

use super::{AiError, AiProvider, Completion, Task, Usage};
use crate::{
    platform::backoff::{backoff, retry_after, wait_before_retry, MAX_ATTEMPTS},
    platform::outbound::OutboundError,
    state::AppState,
};

/// How long one chat-completions request may take (models are slower than ordinary APIs).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The OpenAI-compatible provider.
pub struct OpenAiCompatible {
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub fallback_model: Option<String>,
}

/// A transport-level failure: `fallback` says whether another model could do better.
struct CallError {
    message: String,
}

impl OpenAiCompatible {
    /// One request with retries on 429/5xx/timeouts. Returns the message content and usage.
    async fn post(
        &self,
        state: &AppState,
        model: &str,
        messages: &[ChatCompletionRequestMessage],
        task: &Task,
    ) -> Result<(String, Usage), CallError> {
        let url = format!("{}/chat/completions", self.base_url);
        let body = request_body(model, messages, task);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let wait = match self.send(state, &url, &body, model, attempt).await? {
                Ok(answer) => return Ok(answer),
                Err(wait) => wait,
            };
            wait_before_retry(model, attempt, wait).await;
        }
    }

    /// One attempt: the answer, or how long to wait before the next attempt, or the failure
    /// (after the last attempt, or a status not worth retrying).
    async fn send(
        &self,
        state: &AppState,
        url: &str,
        body: &CreateChatCompletionRequest,
        model: &str,
        attempt: u32,
    ) -> Result<Result<(String, Usage), Duration>, CallError> {
        let fail = |message: String| CallError { message };
        let mut builder = state
            .operator_http
            .request(reqwest::Method::POST, url)
            .map_err(|e| fail(e.to_string()))?
            .timeout(REQUEST_TIMEOUT)
            .json(body);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let last = attempt >= MAX_ATTEMPTS;
        match state.operator_http.execute(builder).await {
            Ok(r) if r.is_success() => {
                let resp: CreateChatCompletionResponse =
                    serde_json::from_slice(&r.body).map_err(|e| {
                        fail(format!(
                            "{model}: the response is not a chat completion ({e})"
                        ))
                    })?;
                Ok(Ok(answer(resp)))
            }
            Ok(r) if r.status == 429 || r.status >= 500 => {
                if last {
                    return Err(fail(format!(
                        "{model}: HTTP {} {MAX_ATTEMPTS} times",
                        r.status
                    )));
                }
                Ok(Err(
                    retry_after(&r.headers).unwrap_or_else(|| backoff(attempt))
                ))
            }
            Ok(r) => Err(fail(format!("{model}: HTTP {}", r.status))),
            Err(OutboundError::Timeout | OutboundError::Http(_)) if !last => {
                Ok(Err(backoff(attempt)))
            }
            Err(e) => Err(fail(format!("{model}: {e}"))),
        }
    }

    /// Asks `model`; an invalid answer gets one repair request.
    async fn ask(&self, state: &AppState, model: &str, task: &Task) -> Result<Completion, AiError> {
        let mut messages: Vec<ChatCompletionRequestMessage> = vec![
            ChatCompletionRequestSystemMessage {
                content: format!("{}\nJSON schema: {}", task.instructions(), task.schema()).into(),
                name: None,
            }
            .into(),
            ChatCompletionRequestUserMessage::from(task.input().to_string()).into(),
        ];
        let mut usage = Usage::default();
        for repair in [false, true] {
            let (content, u) = self
                .post(state, model, &messages, task)
                .await
                .map_err(|e| AiError::Provider(e.message))?;
            usage.prompt_tokens += u.prompt_tokens;
            usage.completion_tokens += u.completion_tokens;
            let checked = serde_json::from_str::<Value>(strip_fences(&content))
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|v| task.validate(&v).map(|()| v));
            match checked {
                Ok(value) => {
                    return Ok(Completion {
                        value,
                        usage,
                        provider: "openai",
                        model: model.to_string(),
                    })
                }
                Err(e) if repair => return Err(AiError::InvalidOutput(e)),
                Err(e) => {
                    tracing::info!(model, error = %e, "AI answer invalid; asking for a repair");
                    messages.push(
                        ChatCompletionRequestAssistantMessage {
                            content: Some(content.into()),
                            ..Default::default()
                        }
                        .into(),
                    );
                    messages.push(
                        ChatCompletionRequestUserMessage::from(format!(
                            "That answer was invalid ({e}). Reply again with only a JSON object matching the schema."
                        ))
                        .into(),
                    );
                }
            }
        }
        Err(AiError::InvalidOutput("no answer".into()))
    }
}

/// The chat-completions request: the messages, a low temperature and the task's JSON schema
/// as the response format.
fn request_body(
    model: &str,
    messages: &[ChatCompletionRequestMessage],
    task: &Task,
) -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: model.to_string(),
        messages: messages.to_vec(),
        temperature: Some(0.2),
        response_format: Some(ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: None,
                name: task.operation().to_string(),
                schema: task.schema(),
                strict: None,
            },
        }),
        ..Default::default()
    }
}

/// The first choice's content and the token usage.
fn answer(resp: CreateChatCompletionResponse) -> (String, Usage) {
    let (prompt_tokens, completion_tokens) = resp
        .usage
        .as_ref()
        .map_or((0, 0), |u| (u.prompt_tokens, u.completion_tokens));
    let content = resp
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .unwrap_or_default();
    let usage = Usage {
        prompt_tokens: u64::from(prompt_tokens),
        completion_tokens: u64::from(completion_tokens),
    };
    (content, usage)
}

/// Models sometimes wrap JSON in a Markdown code fence.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    t.strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.strip_suffix("```"))
        .map(str::trim)
        .unwrap_or(t)
}

#[async_trait]
impl AiProvider for OpenAiCompatible {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn complete(&self, state: &AppState, task: &Task) -> Result<Completion, AiError> {
        match self.ask(state, &self.model, task).await {
            Ok(c) => Ok(c),
            Err(e) => match &self.fallback_model {
                Some(fallback) if fallback != &self.model => {
                    tracing::warn!(model = %self.model, %fallback, error = %e, "AI model failed; using the fallback");
                    self.ask(state, fallback, task).await
                }
                _ => Err(e),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_are_stripped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
    }
}
