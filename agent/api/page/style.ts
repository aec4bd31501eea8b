// The page's CSS, inlined in <style> (the CSP allows inline styles, not inline scripts).
// Below 700px the node table becomes one card per node, labelled from data-label.
export const PAGE_CSS = `
:root{--ok:#1b7f3b;--warn:#8a5a00;--bad:#b3261e;--muted:#5f6368;--line:#dadce0;--bg:#fff;--fg:#1f1f1f;--card:#f6f7f8}
@media (prefers-color-scheme:dark){:root{--ok:#6dd58c;--warn:#f2b84b;--bad:#ff8a80;--muted:#a8abb0;--line:#3c4043;--bg:#131314;--fg:#e8eaed;--card:#1e1f20}}
*{box-sizing:border-box}
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:var(--bg);color:var(--fg)}
a{color:inherit}
header.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem 1rem;padding:.5rem 1rem;border-bottom:1px solid var(--line)}
.brand{font-weight:700}
.live{font-size:.85rem;color:var(--muted)}
.live-on::before{content:"● ";color:var(--ok)}
.live-off::before{content:"● ";color:var(--bad)}
main{max-width:80rem;margin:0 auto;padding:0 1rem 2rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.verdict{margin:1rem 0;padding:.75rem 1rem;border-radius:.5rem;border-left:.5rem solid var(--ok);background:var(--card)}
.verdict h1{margin:0;font-size:1.6rem;line-height:1.2}
.verdict-healthy h1{color:var(--ok)}
.verdict-degraded{border-left-color:var(--warn)}
.verdict-degraded h1{color:var(--warn)}
.verdict-quorum-lost{border-left-color:var(--bad)}
.verdict-quorum-lost h1{color:var(--bad)}
.verdict-details{margin:.5rem 0 0;padding-left:1.2rem}
.verdict-at-risk{border-left-color:var(--bad)}
.verdict-at-risk h1{color:var(--bad)}
.findings{margin:.5rem 0 0;padding-left:1.4rem}
.findings>li{margin:.6rem 0}
.findings p{margin:.15rem 0}
.finding-what{font-weight:600}
.finding-label{color:var(--muted);font-weight:600}
.source-via{padding:.5rem .75rem;border:1px solid var(--line);border-radius:.4rem}
.kube-state{font-weight:700}
.kube-ready{color:var(--ok)}
.kube-notready,.kube-unknown{color:var(--bad)}
.cordon{color:var(--warn)}
.machines{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(15rem,1fr));gap:.75rem}
.machine{border:1px solid var(--line);border-radius:.5rem;padding:.5rem .75rem}
.machine h3{margin:0 0 .3rem;font-size:1rem}
.machine.member-dead{border-color:var(--bad);color:var(--muted)}
.gauge{display:flex;justify-content:space-between;align-items:center;gap:.5rem;margin:.2rem 0;font-size:.9rem}
.chart{flex:none;width:7.5rem;height:2rem;color:var(--ok)}
.chart-mem{color:var(--warn)}
.chart-line{stroke:currentColor;stroke-width:1.5;vector-effect:non-scaling-stroke}
.chart-axis{stroke:var(--line);stroke-width:1}
.machine-facts{font-size:.85rem;margin-top:.3rem}
.warn-inline{color:var(--warn);font-weight:600}
code.command{font-size:1.1rem;padding:.15rem .5rem;background:var(--bg);border:1px solid var(--line);border-radius:.3rem;user-select:all}
.cluster p{margin:.25rem 0;overflow-wrap:anywhere}
.source-mesh{padding:.5rem .75rem;border:1px dashed var(--warn);border-radius:.4rem}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:.85rem;color:var(--muted);font-weight:600}
td{overflow-wrap:break-word}
.member-self{background:var(--card)}
.member-dead td{color:var(--muted)}
.state{font-weight:700}
.state-alive{color:var(--ok)}
.state-suspect,.state-pending{color:var(--warn)}
.state-dead{color:var(--bad)}
.member-dead .state-dead{color:var(--bad)}
small{display:block;color:var(--muted);font-size:.8rem}
.badge{display:inline-block;margin-left:.4rem;padding:0 .45rem;border-radius:.7rem;font-size:.75rem;font-weight:600;background:var(--fg);color:var(--bg);white-space:nowrap}
.warn{display:block;color:var(--warn);font-weight:600;font-size:.9rem}
.muted{color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.events{list-style:none;padding:0;margin:0}
.events li{padding:.3rem 0;border-bottom:1px solid var(--line)}
.events time{font-variant-numeric:tabular-nums;color:var(--muted);margin-right:.5rem}
.event-dead .event-message{color:var(--bad)}
.event-suspect .event-message{color:var(--warn)}
.pending{padding-left:1.2rem}
.pending li{margin:.4rem 0}
.short-code{font-size:1.1rem;font-weight:700}
form.approve{display:inline;margin-left:.5rem}
button{font:inherit;min-height:2.75rem;padding:.3rem .8rem;border-radius:.4rem;border:1px solid var(--line);background:var(--card);color:inherit;cursor:pointer}
.account-links{display:flex;gap:.75rem;align-items:center}
a.account,.links a,td a,a.login,footer a{display:inline-block;min-height:1.5rem;min-width:1.5rem;padding:.25rem 0}
.links li{margin:.2rem 0}
.links{padding-left:1.2rem}
footer{max-width:80rem;margin:0 auto;padding:1rem;color:var(--muted);font-size:.85rem;border-top:1px solid var(--line)}
@media (max-width:700px){
main{padding:0 .75rem 1.5rem}
.verdict h1{font-size:1.35rem}
table.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{margin:0 0 .75rem;padding:.5rem .75rem;border:1px solid var(--line);border-radius:.5rem;background:var(--bg)}
table.cards tr.member-self{background:var(--card)}
table.cards tr.member-dead{border-color:var(--bad)}
table.cards td{border:0;padding:.15rem 0 .15rem 6.5rem;position:relative;min-height:1.6rem}
table.cards td::before{content:attr(data-label);position:absolute;left:0;width:6rem;color:var(--muted);font-size:.85rem;padding-top:.1rem}
table.cards td:first-child{padding-left:0;font-size:1.1rem}
table.cards td:first-child::before{content:none}
}
`
