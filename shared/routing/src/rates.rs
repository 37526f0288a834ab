//! Rate tables: per-destination-prefix prices with billing increments, looked
//! up by longest prefix on the E.164 digits through a digit trie.
//!
//! A table gives every prefix a *slot*: slot 0 is the empty prefix (the whole
//! provider, which matches every number), slots 1.. are the table's rows in
//! order. Success evidence and statistics are kept per slot.

use serde::{Deserialize, Serialize};
use voxdial_domain::Money;

/// How a call's duration is rounded up for billing: the first `first`
/// seconds are charged as a block, then every further started `next`
/// seconds (`60/60` bills whole minutes, `1/1` bills per second, `30/6`
/// bills a 30-second minimum then 6-second steps).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Increments {
    /// The first billed block, in seconds (at least 1).
    pub first: u32,
    /// Every following block, in seconds (at least 1).
    pub next: u32,
}

impl Increments {
    /// Whole minutes: `60/60`.
    pub const PER_MINUTE: Increments = Increments {
        first: 60,
        next: 60,
    };

    /// Parses `"60/60"`, `"30/6"` or a single number (`"1"` = `1/1`).
    pub(crate) fn parse(text: &str) -> Option<Increments> {
        let text = text.trim();
        let (first, next) = text.split_once('/').unwrap_or((text, text));
        let first: u32 = first.trim().parse().ok()?;
        let next: u32 = next.trim().parse().ok()?;
        (first > 0 && next > 0).then_some(Increments { first, next })
    }

    /// The seconds billed for a call that lasted `duration_secs` after answer
    /// (an answered call is billed at least the first block).
    pub fn billed_secs(self, duration_secs: u32) -> u64 {
        let d = u64::from(duration_secs);
        let first = u64::from(self.first);
        let next = u64::from(self.next);
        if d <= first {
            first
        } else {
            first + (d - first).div_ceil(next) * next
        }
    }
}

/// The price of calling one destination prefix through one provider.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    /// The E.164 digit prefix the row applies to (`"1212"`, `"91"`).
    pub prefix: String,
    /// Price per billed minute.
    pub per_minute: Money,
    /// Billing increments.
    pub increments: Increments,
    /// Charged once per answered call, on top of the minutes.
    pub setup_fee: Money,
}

impl Rate {
    /// What a call costs by this rate: nothing when unanswered; else the setup
    /// fee plus the per-minute price of the billed seconds, rounded to the
    /// nearest micro-dollar.
    pub fn cost(&self, answered: bool, duration_secs: u32) -> Money {
        if !answered {
            return Money::ZERO;
        }
        let billed = i128::from(self.increments.billed_secs(duration_secs));
        let micros = (i128::from(self.per_minute.0) * billed + 30) / 60;
        let micros = i64::try_from(micros).unwrap_or(i64::MAX);
        Money(micros) + self.setup_fee
    }
}

/// The most digits an E.164 number has.
pub(crate) const MAX_DIGITS: usize = 15;

/// The slots of every table prefix that is a prefix of one number, shortest
/// first (the empty prefix, slot 0, is always first).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PrefixPath {
    slots: [u32; MAX_DIGITS + 1],
    len: usize,
}

impl PrefixPath {
    /// Slots from the longest matching prefix to the empty prefix.
    pub(crate) fn longest_first(&self) -> impl Iterator<Item = usize> + '_ {
        self.slots[..self.len].iter().rev().map(|&s| s as usize)
    }

    /// The slot of the longest matching prefix (0 when only the empty prefix matches).
    pub(crate) fn longest(&self) -> usize {
        self.slots[self.len - 1] as usize
    }
}

/// A digit trie from prefix to slot. Node 0 is the root (the empty prefix);
/// a child index of 0 means "no child" since the root is nobody's child.
#[derive(Clone, Debug)]
pub(crate) struct RateTable {
    children: Vec<[u32; 10]>,
    /// The slot stored at each node, or `NONE`.
    node_slot: Vec<u32>,
    /// Rows by slot - 1.
    rates: Vec<Rate>,
}

const NONE: u32 = u32::MAX;

impl RateTable {
    /// Builds the trie. Prefixes must be unique strings of ASCII digits
    /// (checked by the config validation); a duplicate keeps the first row.
    pub(crate) fn new(rates: Vec<Rate>) -> Self {
        let mut table = RateTable {
            children: vec![[0; 10]],
            node_slot: vec![0],
            rates: Vec::new(),
        };
        for (i, rate) in rates.iter().enumerate() {
            let mut node = 0usize;
            for b in rate.prefix.bytes() {
                let d = usize::from(b.wrapping_sub(b'0')).min(9);
                let child = table.children[node][d];
                node = if child == 0 {
                    table.children.push([0; 10]);
                    table.node_slot.push(NONE);
                    let new = table.children.len() - 1;
                    table.children[node][d] = new as u32;
                    new
                } else {
                    child as usize
                };
            }
            if table.node_slot[node] == NONE {
                table.node_slot[node] = (i + 1) as u32;
            }
        }
        table.rates = rates;
        table
    }

    /// Number of slots, the provider-wide slot 0 included.
    pub(crate) fn slots(&self) -> usize {
        self.rates.len() + 1
    }

    /// The rate of a slot (none for slot 0).
    pub(crate) fn rate(&self, slot: usize) -> Option<&Rate> {
        slot.checked_sub(1).and_then(|i| self.rates.get(i))
    }

    /// The prefix of a slot (`""` for slot 0).
    pub(crate) fn prefix(&self, slot: usize) -> &str {
        self.rate(slot).map_or("", |r| r.prefix.as_str())
    }

    /// The slot of an exact prefix (`""` is slot 0).
    pub(crate) fn slot_of(&self, prefix: &str) -> Option<usize> {
        let mut node = 0usize;
        for b in prefix.bytes() {
            if !b.is_ascii_digit() {
                return None;
            }
            node = self.children[node][usize::from(b - b'0')] as usize;
            if node == 0 {
                return None;
            }
        }
        let slot = self.node_slot[node];
        (slot != NONE).then_some(slot as usize)
    }

    /// Every table prefix of `digits` (digit values 0..=9), shortest first.
    pub(crate) fn path(&self, digits: &[u8]) -> PrefixPath {
        let mut path = PrefixPath {
            slots: [0; MAX_DIGITS + 1],
            len: 1,
        };
        let mut node = 0usize;
        for &d in digits.iter().take(MAX_DIGITS) {
            node = self.children[node][usize::from(d.min(9))] as usize;
            if node == 0 {
                break;
            }
            let slot = self.node_slot[node];
            if slot != NONE {
                path.slots[path.len] = slot;
                path.len += 1;
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(prefix: &str, micros: i64) -> Rate {
        Rate {
            prefix: prefix.into(),
            per_minute: Money(micros),
            increments: Increments::PER_MINUTE,
            setup_fee: Money::ZERO,
        }
    }

    fn digits(s: &str) -> Vec<u8> {
        s.bytes().map(|b| b - b'0').collect()
    }

    #[test]
    fn longest_prefix_wins() {
        let table = RateTable::new(vec![
            rate("1", 10),
            rate("1212", 20),
            rate("12125", 30),
            rate("44", 40),
        ]);
        let p = table.path(&digits("12125550100"));
        assert_eq!(table.prefix(p.longest()), "12125");
        assert_eq!(
            p.longest_first()
                .map(|s| table.prefix(s))
                .collect::<Vec<_>>(),
            ["12125", "1212", "1", ""]
        );
        // A sibling branch that shares digits but not the whole prefix.
        let p = table.path(&digits("12135550100"));
        assert_eq!(table.prefix(p.longest()), "1");
        // "121" is an inner node without a row: falls back to "1".
        let p = table.path(&digits("1219"));
        assert_eq!(table.prefix(p.longest()), "1");
        // No row at all: only the empty prefix.
        let p = table.path(&digits("919876543210"));
        assert_eq!(p.longest(), 0);
        assert!(table.rate(p.longest()).is_none());
        assert_eq!(table.slot_of("1212"), Some(2));
        assert_eq!(table.slot_of("121"), None);
        assert_eq!(table.slot_of(""), Some(0));
    }

    #[test]
    fn billing_increments_round_up() {
        let minute = Increments::PER_MINUTE;
        assert_eq!(minute.billed_secs(0), 60);
        assert_eq!(minute.billed_secs(60), 60);
        assert_eq!(minute.billed_secs(61), 120);
        let second = Increments::parse("1/1").unwrap();
        assert_eq!(second.billed_secs(61), 61);
        let mixed = Increments::parse("30/6").unwrap();
        assert_eq!(mixed.billed_secs(10), 30);
        assert_eq!(mixed.billed_secs(31), 36);
        assert_eq!(mixed.billed_secs(36), 36);
        assert_eq!(mixed.billed_secs(37), 42);
        assert_eq!(
            Increments::parse("6"),
            Some(Increments { first: 6, next: 6 })
        );
        assert_eq!(Increments::parse("0/60"), None);
        assert_eq!(Increments::parse("60/x"), None);
    }

    #[test]
    fn cost_follows_increments_and_fee() {
        let mut r = rate("1", 14_000); // $0.014 / min
        assert_eq!(r.cost(false, 100), Money::ZERO);
        assert_eq!(r.cost(true, 61), Money(28_000));
        r.increments = Increments { first: 1, next: 1 };
        assert_eq!(r.cost(true, 61), Money(14_233)); // 14000 * 61 / 60 = 14233.3
        r.setup_fee = Money(1_000);
        assert_eq!(r.cost(true, 61), Money(15_233));
    }
}
