//! Settings the faces hand to the engine: plain data, chosen by flags and the config file.

/// `--transport`: uTP first with TCP when uTP gets no answer (`Both`), or only one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TransportPolicy {
    Tcp,
    Utp,
    #[default]
    Both,
}

impl TransportPolicy {
    pub fn tcp(self) -> bool {
        self != TransportPolicy::Utp
    }
    pub fn utp(self) -> bool {
        self != TransportPolicy::Tcp
    }
}
