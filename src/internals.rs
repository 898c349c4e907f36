//! What the integration tests, benchmarks and fuzz targets reach inside the crate.
//!
//! The crate's modules are private: the binary's whole entry is [`crate::run`]. Tests that drive
//! the engine in-process (fake peers, codecs, snapshots drawn to a buffer) need more than that,
//! and this module is the one door they go through, `#[doc(hidden)]` because it is not an API
//! anyone should build on. Its layout mirrors the crate's, so `ttui::internals::protocol::message`
//! is `crate::protocol::message`. Everything not named here is private to the crate, and the
//! `unreachable_pub` lint keeps it so: an item made `pub` inside the crate but reachable from
//! nowhere outside is a warning.
//!
//! The pure parsers (`protocol`) are re-exported whole: every one of them has a fuzz target and
//! unit tests outside the crate. Elsewhere only the items a test names are.

pub mod protocol {
    pub use crate::protocol::{
        bencode, bitfield, blocklist, extension, handshake, holepunch, krpc, lsd, magnet, merkle,
        message, metainfo, mse_codec, natpmp, pcp, peer_id, rc4, socks_udp, stun, text, upnp,
        utp_packet, wt_tracker,
    };
}

pub mod create {
    pub use crate::create::create_torrent;
}

pub mod engine {
    pub use crate::engine::peer::connect::connect_and_handshake;
    pub use crate::engine::session::single::start;
    pub use crate::engine::torrent::options::{Options, TorrentEnd};
    pub use crate::engine::torrent::Engine;
    pub use crate::engine::{api, ExtHandshake};
    pub mod disk {
        pub mod parts {
            pub use crate::engine::disk::parts::parse_header;
        }
    }
    pub mod session {
        pub mod store {
            pub use crate::engine::session::store::lock::{try_lock, LockError};
            pub use crate::engine::session::store::restart::stamp_files;
            pub use crate::engine::session::store::resume::Resume;
            pub use crate::engine::session::store::{resume, Store};
        }
    }
    pub mod torrent {
        pub use crate::engine::torrent::human;
        pub mod holepunch {
            pub use crate::engine::torrent::holepunch::{Relay, Target, Verdict, PER_SECOND};
        }
        pub mod picker {
            pub use crate::engine::torrent::picker::Picker;
            pub use crate::protocol::geometry::BlockRef;
        }
    }
}

pub mod net {
    pub use crate::net::mse_stream::EncryptionPolicy;
    pub use crate::net::stream::{Encryption, TransportKind};
    pub mod utp {
        pub use crate::net::utp::stream::UtpStream;
        pub use crate::net::utp::{UtpConfig, UtpListener, UtpSocket};
    }
    pub mod webrtc {
        pub use crate::net::webrtc::{
            answer_offer_sdp, Connecting, Offer, OfferId, Stage, WebRtc, WebRtcConfig, WebRtcError,
            WebRtcStream, MAX_MESSAGE, MAX_SDP,
        };
    }
}

pub mod tracker {
    pub use crate::tracker::task::{spawn_with_config, TaskConfig, MAX_CONCURRENT_ANNOUNCES};
    pub use crate::tracker::{
        announce, announce_with, http, http_client_builder, udp, AnnounceEvent, AnnounceRequest,
        LogLevel, Progress, SwarmHashes, TrackerCommand, TrackerError, TrackerRow, TrackerStatus,
        TrackerUpdate, MAX_PEERS_PER_REPLY,
    };
}

pub mod dht {
    pub use crate::dht::persist;
    pub use crate::dht::service::{is_krpc, Dht, DhtConfig};
}

pub mod control {
    pub use crate::control::server::ControlServer;
    pub use crate::control::{files, frame, ids, proto, server, Client};
}

pub mod config {
    pub use crate::config::parse;
}

pub mod cli {
    pub use crate::cli::info;
    pub mod attach {
        pub use crate::cli::target::{ssh_command, Target};
    }
    pub mod load {
        pub use crate::engine::host::load::MAX_TORRENT_SIZE;
    }
}

pub mod demo {
    pub use crate::demo::spec::{make_payload, PayloadSpec};
    pub use crate::demo::{write_transmission_settings, TransmissionSettings};
}

pub mod ui {
    pub use crate::ui::app::App;
    pub use crate::ui::{action, draw, list, Action, Theme};
}

pub mod stream {
    /// The stream server's Range header parser (the fuzz target `stream_range` feeds it).
    pub mod range {
        pub use crate::stream::range::{parse, Ask};
    }
}

pub mod qbt {
    //! What the qBittorrent API reads of a request (the fuzz target `qbt` feeds them).
    pub use crate::engine::api::tracker_url_ok;
    pub use crate::http::guard::cookie;
    pub use crate::qbt::auth::cross_site;
    pub use crate::qbt::edits::{file_priority, preference_change};
    pub use crate::qbt::form::Params;
    pub use crate::qbt::multipart::{boundary, parse as parse_multipart};
    pub use crate::qbt::torrent_edits::parse_peer;
}

pub mod rpc {
    /// The RPC's request envelope parser (the fuzz target `rpc` feeds it).
    pub mod request {
        pub use crate::rpc::request::{parse, response, Envelope, EnvelopeError};
    }
    /// Which file of the web client a request's path names (the fuzz target `rpc` feeds it).
    pub mod web {
        pub use crate::http::web::{route, Route};
    }
    /// The JSON-RPC 2.0 form's name translations (the fuzz target `rpc` feeds them).
    pub mod jsonrpc {
        pub use crate::rpc::jsonrpc::{is_jsonrpc, legacy_map, snake};
    }
}
