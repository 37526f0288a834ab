//! `voxdial ai-agents …`: AI agents on a running server, from TOML files.
//!
//! An agent file holds a draft as the API takes it, in TOML:
//!
//! ```toml
//! preferred_provider = "twilio"        # optional: the agent_assigned strategy
//! [config]                             # every field optional (the built-in agent fills the rest)
//! name = "Maya"
//! system_prompt = "You are Maya from Sunrise Dental…"
//! voice = "Puck"
//! language = "en-US"
//! principles = ["Say early that you are an AI assistant."]
//! [config.voicemail]
//! text = "Hi, this is Maya from Sunrise Dental. Please call us back."
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::{Server, client};

/// `voxdial ai-agents …`.
#[derive(Subcommand)]
pub(crate) enum AiAgentsCommand {
    /// Create an agent (version 1) from a TOML file.
    Create {
        /// The agent file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        server: Server,
    },
    /// Store the next version of an agent from a TOML file.
    Update {
        /// The agent id.
        id: String,
        /// The agent file.
        #[arg(long)]
        file: PathBuf,
        /// Refuse the update unless the agent is still at this version.
        #[arg(long)]
        base_version: Option<u32>,
        #[command(flatten)]
        server: Server,
    },
    /// List the organisation's agents, each at its latest version.
    List {
        #[command(flatten)]
        server: Server,
    },
    /// Show an agent (its latest version, or `--version N`).
    Show {
        /// The agent id.
        id: String,
        /// The version to show.
        #[arg(long)]
        version: Option<u32>,
        #[command(flatten)]
        server: Server,
    },
    /// List the problems of an agent file without storing it.
    Validate {
        /// The agent file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        server: Server,
    },
}

/// The draft in an agent file, as JSON.
fn draft(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))
}

/// Runs one `voxdial ai-agents` command and prints the server's answer.
pub(crate) async fn run(command: AiAgentsCommand) -> anyhow::Result<()> {
    let answer = match command {
        AiAgentsCommand::Create { file, server } => {
            server
                .client()?
                .post_json("/v1/ai-agents", &draft(&file)?)
                .await?
        }
        AiAgentsCommand::Update {
            id,
            file,
            base_version,
            server,
        } => {
            let mut body = draft(&file)?;
            if let Some(version) = base_version {
                body["base_version"] = json!(version);
            }
            server
                .client()?
                .put_json(&format!("/v1/ai-agents/{id}"), &body)
                .await?
        }
        AiAgentsCommand::List { server } => server.client()?.get("/v1/ai-agents").await?,
        AiAgentsCommand::Show {
            id,
            version,
            server,
        } => {
            let path = match version {
                Some(v) => format!("/v1/ai-agents/{id}?version={v}"),
                None => format!("/v1/ai-agents/{id}"),
            };
            server.client()?.get(&path).await?
        }
        AiAgentsCommand::Validate { file, server } => {
            server
                .client()?
                .post_json("/v1/ai-agents/validate", &draft(&file)?)
                .await?
        }
    };
    client::print(&answer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_file_becomes_the_api_draft() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.toml");
        std::fs::write(
            &path,
            "preferred_provider = \"twilio\"\n[config]\nname = \"Maya\"\ntools = [\"end_call\"]\n\
             [config.voicemail]\ntext = \"Call us back.\"\n",
        )
        .unwrap();
        assert_eq!(
            draft(&path).unwrap(),
            json!({"preferred_provider": "twilio", "config": {
                "name": "Maya", "tools": ["end_call"], "voicemail": {"text": "Call us back."}
            }})
        );
        std::fs::write(&path, "name = ").unwrap();
        assert!(draft(&path).is_err());
    }
}
