//! One connection's `Rtc` and its SDP: the offer we make, the answer we give to a remote
//! offer, the answer we apply. The only place ttui hands outside text (an SDP relayed by a
//! tracker) to str0m; `answer_offer_sdp` is the fuzz target's way in.

use std::net::SocketAddr;
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::{Candidate, CandidateKind, Rtc};

use super::{WebRtcError, MAX_SDP};

/// The candidates of a parsed SDP (str0m's `Sdp`, which it does not name outside): at the
/// session level and on the m-lines (browsers put them there).
macro_rules! candidates_of {
    ($sdp:expr) => {
        $sdp.session
            .ice_candidates()
            .chain($sdp.media_lines.iter().flat_map(|m| m.ice_candidates()))
    };
}

/// A new `Rtc` for one connection, with our candidates. Data channels only: no codecs, no
/// statistics, so nothing but ICE, DTLS and SCTP runs in it.
pub(super) fn new_rtc(
    now: Instant,
    hosts: &[SocketAddr],
    reflexive: Option<(SocketAddr, SocketAddr)>,
    sctp_buffer: usize,
) -> Rtc {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .set_stats_interval(None)
        .set_sctp_max_buffered_amount(sctp_buffer)
        .build(now);
    for &addr in hosts {
        // An address str0m refuses (a wildcard, a link-local one) is left out; the others
        // still serve.
        if let Ok(c) = Candidate::host(addr, "udp") {
            rtc.add_local_candidate(c);
        }
    }
    if let Some((addr, base)) = reflexive {
        if let Ok(c) = Candidate::server_reflexive(addr, base, "udp") {
            rtc.add_local_candidate(c);
        }
    }
    rtc
}

/// Our offer: one data channel, ordered and reliable (simple-peer's default config), with
/// a label as simple-peer makes them (20 random bytes in hex).
pub(super) fn make_offer(
    rtc: &mut Rtc,
) -> Result<(String, SdpPendingOffer, ChannelId), WebRtcError> {
    let mut api = rtc.sdp_api();
    let label: String = (0..20)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let channel = api.add_channel(label);
    let (offer, pending) = api
        .apply()
        .ok_or_else(|| WebRtcError::BadSdp("no offer was made".into()))?;
    Ok((offer.to_sdp_string(), pending, channel))
}

/// Applies the answer to our offer; where the answer says the peer is (`named`).
pub(super) fn accept_answer(
    rtc: &mut Rtc,
    pending: SdpPendingOffer,
    answer_sdp: &str,
) -> Result<Option<SocketAddr>, WebRtcError> {
    check_text(answer_sdp)?;
    let answer =
        SdpAnswer::from_sdp_string(answer_sdp).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    let at = named(candidates_of!(answer));
    rtc.sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    Ok(at)
}

/// The address an SDP names for the peer, to show before ICE chooses a pair: its
/// server-reflexive candidate (the address the internet sees), else its first host one.
fn named<'a>(candidates: impl Iterator<Item = &'a Candidate>) -> Option<SocketAddr> {
    let all: Vec<&Candidate> = candidates.collect();
    let of = |kind: CandidateKind| all.iter().find(|c| c.kind() == kind).map(|c| c.addr());
    of(CandidateKind::ServerReflexive).or_else(|| of(CandidateKind::Host))
}

/// Our answer to a remote offer, which must offer a data channel (`m=application`): an
/// offer of audio or video alone is no WebTorrent peer. With it, where the offer says the
/// peer is (`named`).
pub(super) fn accept_offer(
    rtc: &mut Rtc,
    offer_sdp: &str,
) -> Result<(String, Option<SocketAddr>), WebRtcError> {
    check_text(offer_sdp)?;
    let has_channel = offer_sdp
        .lines()
        .any(|l| l.starts_with("m=application") && l.contains("webrtc-datachannel"));
    if !has_channel {
        return Err(WebRtcError::BadSdp("the offer has no data channel".into()));
    }
    let offer =
        SdpOffer::from_sdp_string(offer_sdp).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    let at = named(candidates_of!(offer));
    let answer = rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    Ok((answer.to_sdp_string(), at))
}

/// The bounds every SDP meets before str0m parses it: its length (a tracker bounds it too,
/// but an SDP may come from elsewhere) and no NUL (text, not bytes).
fn check_text(sdp: &str) -> Result<(), WebRtcError> {
    if sdp.len() > MAX_SDP {
        return Err(WebRtcError::BadSdp(format!(
            "{} bytes (at most {MAX_SDP})",
            sdp.len()
        )));
    }
    if sdp.contains('\0') {
        return Err(WebRtcError::BadSdp("a NUL in the text".into()));
    }
    Ok(())
}

/// A remote offer's answer from a fresh `Rtc` with one loopback candidate: what the driver
/// does with an offer, without the driver. For the fuzz target and tests.
pub fn answer_offer_sdp(offer_sdp: &str) -> Result<String, WebRtcError> {
    let mut rtc = new_rtc(
        Instant::now(),
        &[SocketAddr::from(([127, 0, 0, 1], 9))],
        None,
        64 << 10,
    );
    accept_offer(&mut rtc, offer_sdp).map(|(answer, _)| answer)
}
