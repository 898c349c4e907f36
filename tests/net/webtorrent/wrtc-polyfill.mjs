// What `webrtc-polyfill` exports, from @roamhq/wrtc (libwebrtc, the binary shipped inside the
// npm package @roamhq/wrtc-linux-x64) instead of node-datachannel. Loaded through
// wrtc-hooks.mjs; the packages come from $TTUI_NODE_MODULES/node_modules.
//
// A test must never ask a STUN or TURN server but its own: an RTCPeerConnection configured
// with any other ICE server throws (simple-peer's default lists public STUN servers, so a peer
// that did not get `rtcConfig: { iceServers: [] }` fails at once instead of leaking a
// request). The one allowed is the test's STUN server, `stun:` + $TTUI_TEST_STUN (IP:PORT,
// which peer.mjs sets from its --stun), alone.
import { createRequire } from 'node:module'

const require = createRequire(`${process.env.TTUI_NODE_MODULES}/node_modules/`)
const wrtc = require('@roamhq/wrtc')

export class RTCPeerConnection extends wrtc.RTCPeerConnection {
  constructor (config, ...rest) {
    const servers = (config && config.iceServers) || []
    const ours = process.env.TTUI_TEST_STUN
    const allowed = servers.length === 1 && ours && servers[0].urls === `stun:${ours}`
    if (servers.length > 0 && !allowed) {
      throw new Error(`an ICE server in a test: ${JSON.stringify(config.iceServers)}`)
    }
    super(config, ...rest)
  }
}
export const RTCSessionDescription = wrtc.RTCSessionDescription
export const RTCIceCandidate = wrtc.RTCIceCandidate
export const RTCDataChannel = wrtc.RTCDataChannel
export const RTCIceTransport = wrtc.RTCIceTransport
export const RTCSctpTransport = wrtc.RTCSctpTransport
export const RTCDtlsTransport = wrtc.RTCDtlsTransport
export const RTCDataChannelEvent = wrtc.RTCDataChannelEvent
export const RTCPeerConnectionIceEvent = wrtc.RTCPeerConnectionIceEvent
export const MediaStream = wrtc.MediaStream
export const MediaStreamTrack = wrtc.MediaStreamTrack
export default wrtc
