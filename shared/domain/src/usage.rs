//! What the voice model used on a call, and what that cost.
//!
//! Gemini Live reports `usageMetadata` with its turns: the prompt tokens
//! (the session's context, which grows with every turn) and the response
//! tokens of that turn, each split by modality. Every report is billed, so
//! a call's usage is the sum of its reports, across reconnections. The
//! price is per million tokens and per modality, from [`ModelPrices`].

use serde::{Deserialize, Serialize};

use crate::Money;

/// A call's model usage: the sum of the model's `usageMetadata` reports,
/// and its price once known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelUsage {
    /// Input tokens of every modality (`promptTokenCount`).
    pub prompt_tokens: u64,
    /// Of those, audio tokens (`promptTokensDetails`, modality `AUDIO`).
    pub prompt_audio_tokens: u64,
    /// Output tokens of every modality (`responseTokenCount`).
    pub response_tokens: u64,
    /// Of those, audio tokens (`responseTokensDetails`, modality `AUDIO`).
    pub response_audio_tokens: u64,
    /// Reports summed.
    pub reports: u32,
    /// The price of these tokens at the engine's [`ModelPrices`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<Money>,
}

impl ModelUsage {
    /// Adds one report's tokens (its `cost` is not added: price the sum).
    pub fn add(&mut self, report: &ModelUsage) {
        self.prompt_tokens += report.prompt_tokens;
        self.prompt_audio_tokens += report.prompt_audio_tokens;
        self.response_tokens += report.response_tokens;
        self.response_audio_tokens += report.response_audio_tokens;
        self.reports += report.reports.max(1);
    }

    /// All tokens, in and out.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.response_tokens
    }

    /// The price of these tokens, rounded to the nearest micro-dollar.
    /// Tokens not counted as audio are priced as text.
    pub fn price(&self, prices: &ModelPrices) -> Money {
        let text_in = self.prompt_tokens.saturating_sub(self.prompt_audio_tokens);
        let text_out = self
            .response_tokens
            .saturating_sub(self.response_audio_tokens);
        let micros_per_million: i128 = [
            (text_in, prices.text_input),
            (self.prompt_audio_tokens, prices.audio_input),
            (text_out, prices.text_output),
            (self.response_audio_tokens, prices.audio_output),
        ]
        .iter()
        .map(|(tokens, price)| i128::from(*tokens) * i128::from(price.0))
        .sum();
        let micros = (micros_per_million + 500_000) / 1_000_000;
        Money(i64::try_from(micros).unwrap_or(i64::MAX))
    }
}

/// The voice model's prices per million tokens, by direction and modality.
/// The defaults are Google's published pay-as-you-go prices for Gemini 2.5
/// Flash native audio on the Live API (USD per 1M tokens: text in 0.50,
/// audio in 3.00, text out 2.00, audio out 12.00); set your own rates for
/// another model or a negotiated price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelPrices {
    /// Per million text input tokens.
    pub text_input: Money,
    /// Per million audio input tokens.
    pub audio_input: Money,
    /// Per million text output tokens.
    pub text_output: Money,
    /// Per million audio output tokens.
    pub audio_output: Money,
}

impl ModelPrices {
    /// From four prices in USD per million tokens, in the order text in,
    /// audio in, text out, audio out (e.g. `"0.5,3,2,12"`, the defaults).
    pub fn parse(text: &str) -> Result<ModelPrices, String> {
        let usd: Vec<&str> = text.split(',').map(str::trim).collect();
        let [text_input, audio_input, text_output, audio_output] = usd[..] else {
            return Err(format!(
                "model prices are four USD amounts per million tokens (text in, audio in, text out, audio out), not {text:?}"
            ));
        };
        let price = |amount: &str| match amount.parse::<f64>() {
            Ok(usd) if usd.is_finite() && (0.0..=1_000_000.0).contains(&usd) => {
                Ok(Money((usd * 1_000_000.0).round() as i64))
            }
            _ => Err(format!(
                "a model price must be a USD amount from 0 to 1000000, not {amount:?}"
            )),
        };
        Ok(ModelPrices {
            text_input: price(text_input)?,
            audio_input: price(audio_input)?,
            text_output: price(text_output)?,
            audio_output: price(audio_output)?,
        })
    }
}

impl Default for ModelPrices {
    fn default() -> ModelPrices {
        ModelPrices {
            text_input: Money(500_000),
            audio_input: Money(3_000_000),
            text_output: Money(2_000_000),
            audio_output: Money(12_000_000),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_add_up_and_the_sum_is_priced_by_modality() {
        // GIVEN two turns' reports: the second turn's prompt holds the first
        let first = ModelUsage {
            prompt_tokens: 1_000,
            prompt_audio_tokens: 200,
            response_tokens: 300,
            response_audio_tokens: 250,
            ..ModelUsage::default()
        };
        let second = ModelUsage {
            prompt_tokens: 1_600,
            prompt_audio_tokens: 450,
            response_tokens: 100,
            response_audio_tokens: 100,
            ..ModelUsage::default()
        };
        let mut call = ModelUsage::default();
        call.add(&first);
        call.add(&second);
        assert_eq!(call.prompt_tokens, 2_600);
        assert_eq!(call.response_audio_tokens, 350);
        assert_eq!(call.reports, 2);
        assert_eq!(call.total_tokens(), 3_000);
        // THEN text in 1,950 × 0.5 + audio in 650 × 3 + text out 50 × 2 +
        // audio out 350 × 12 USD per million = 7,225 µUSD
        assert_eq!(call.price(&ModelPrices::default()), Money(7_225));
    }

    #[test]
    fn prices_parse_from_four_usd_amounts_per_million() {
        assert_eq!(
            ModelPrices::parse("0.5, 3, 2, 12"),
            Ok(ModelPrices::default())
        );
        let cheap = ModelPrices::parse("0,0.25,1.5,0").unwrap();
        assert_eq!(cheap.audio_input, Money(250_000));
        assert_eq!(cheap.text_output, Money(1_500_000));
        for bad in ["", "1,2,3", "1,2,3,4,5", "1,2,x,4", "1,-2,3,4", "1,NaN,3,4"] {
            let error = ModelPrices::parse(bad).unwrap_err();
            assert!(error.contains("model price"), "{bad}: {error}");
        }
    }

    #[test]
    fn the_price_rounds_to_the_nearest_micro_dollar() {
        let one = ModelUsage {
            prompt_tokens: 1,
            ..ModelUsage::default()
        };
        // 0.5 µUSD rounds up; a zero usage costs nothing.
        assert_eq!(one.price(&ModelPrices::default()), Money(1));
        assert_eq!(
            ModelUsage::default().price(&ModelPrices::default()),
            Money::ZERO
        );
    }
}
