//! The rate-limit flags of `ttui`, `ttui daemon` and `--headless` (flattened into
//! `DownloadArgs`), their config-file keys, and how `ttui config` shows them. Rates are
//! written as `2M`, `500K`, `1.5MiB` or `0` (unlimited); K, M and G are KiB, MiB and GiB.

use crate::engine::api::{parse_rate, RateOptions, RatePair, Schedule};

#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct RateArgs {
    /// Download limit of the whole session, e.g. 2M, 500K, 1.5MiB (K/M/G = KiB/MiB/GiB per
    /// second); 0 = unlimited.
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = parse_rate)]
    pub down_limit: u64,
    /// Upload limit of the whole session (as --down-limit).
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = parse_rate)]
    pub up_limit: u64,
    /// Download limit in turtle mode (`ttui limit --turtle on`, or --alt-schedule).
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = parse_rate)]
    pub alt_down_limit: u64,
    /// Upload limit in turtle mode.
    #[arg(long, value_name = "RATE", default_value = "0", value_parser = parse_rate)]
    pub alt_up_limit: u64,
    /// Turtle mode daily in this window, local time, e.g. 01:00-07:00.
    #[arg(long, value_name = "HH:MM-HH:MM", value_parser = Schedule::parse)]
    pub alt_schedule: Option<Schedule>,
    /// Do not limit peers on loopback and private networks (they are limited by default).
    #[arg(long)]
    pub exempt_local_peers: bool,
}

impl RateArgs {
    pub(crate) fn options(&self) -> RateOptions {
        RateOptions {
            normal: RatePair {
                down: self.down_limit,
                up: self.up_limit,
            },
            alt: RatePair {
                down: self.alt_down_limit,
                up: self.alt_up_limit,
            },
            schedule: self.alt_schedule,
            exempt_local: self.exempt_local_peers,
        }
    }

    /// The value `ttui config` shows for one of these keys, None for other keys.
    pub(crate) fn shown(&self, key: &str) -> Option<String> {
        use crate::engine::api::show_rate;
        Some(match key {
            "down_limit" => show_rate(self.down_limit),
            "up_limit" => show_rate(self.up_limit),
            "alt_down_limit" => show_rate(self.alt_down_limit),
            "alt_up_limit" => show_rate(self.alt_up_limit),
            "alt_schedule" => self.alt_schedule.map_or("(none)".into(), |s| s.to_string()),
            "exempt_local_peers" => if self.exempt_local_peers { "on" } else { "off" }.into(),
            _ => return None,
        })
    }
}
