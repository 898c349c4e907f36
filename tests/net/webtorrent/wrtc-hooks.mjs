// Module resolution hook for peer.mjs (registered with node:module's register()): the bare
// specifier `webrtc-polyfill`, which @thaunknown/simple-peer (WebTorrent's and
// bittorrent-tracker's WebRTC peer) imports for RTCPeerConnection, resolves to
// ./wrtc-polyfill.mjs, which hands out @roamhq/wrtc's classes instead. See peer.mjs for why.
const shim = new URL('./wrtc-polyfill.mjs', import.meta.url).href

export async function resolve (specifier, context, nextResolve) {
  if (specifier === 'webrtc-polyfill') return { url: shim, shortCircuit: true }
  return nextResolve(specifier, context)
}
