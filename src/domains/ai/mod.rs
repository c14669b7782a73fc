//! AI: one [`provider::AiProvider`] trait with a deterministic local default
//! ([`local::LocalHeuristic`]) and an OpenAI-compatible client ([`openai::OpenAiCompatible`]);
//! text tools, lead-info extraction and search goals, with a per-organization monthly token
//! budget, a result cache and usage recording ([`service`]).

pub mod local;
pub mod openai;
pub mod provider;
pub mod resolver;
pub mod service;
pub mod types;

pub use resolver::{AiMutation, AiQuery};
