// A message body as chat apps show Markdown: bold, italic, strike, inline
// code, code blocks with highlighting, quotes, lists and links (bare URLs
// linked). The stored body stays the source text. Nothing a member types
// can run script or load anything: raw HTML is shown as text
// (react-markdown never renders it), images are shown as their text, and
// only http(s) and mailto links survive.
import type { ReactNode } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";
import rehypeHighlight from "rehype-highlight";
import "highlight.js/styles/github.css";
import { mentionPattern } from "./mentions";

const safeProtocol = /^(https?:|mailto:)/i;

/** Keeps http(s) and mailto links; anything else (javascript:, data:,
 * relative paths, protocol tricks) becomes no link at all. */
export function safeUrl(url: string): string {
  const u = url.trim();
  return safeProtocol.test(u) && !/[\u0000-\u001f]/.test(u) ? u : "";
}

// A message of one paragraph stays bare text in its element, as a plain
// message always was (no <p> around it).
type HastNode = { type: string; tagName?: string; value?: string; properties?: Record<string, unknown>; children?: HastNode[] };

/** Shows each <@memberId> as @Name (the member's current name); code
 * keeps the text as typed. */
function mentionsAsNames(nameOf: (id: string) => string, me: string) {
  const walk = (node: HastNode) => {
    if (node.tagName === "code" || node.tagName === "pre" || !node.children) return;
    const out: HastNode[] = [];
    for (const c of node.children) {
      if (c.type !== "text" || !c.value?.includes("<@")) {
        walk(c);
        out.push(c);
        continue;
      }
      let last = 0;
      for (const m of c.value.matchAll(mentionPattern)) {
        if (m.index > last) out.push({ type: "text", value: c.value.slice(last, m.index) });
        out.push({
          type: "element", tagName: "span",
          properties: { className: m[1] === me ? ["mention", "mention-me"] : ["mention"], dataMember: m[1] },
          children: [{ type: "text", value: "@" + nameOf(m[1]) }],
        });
        last = m.index + m[0].length;
      }
      if (last < c.value.length) out.push({ type: "text", value: c.value.slice(last) });
    }
    node.children = out;
  };
  return () => (tree: HastNode) => walk(tree);
}
// Bodies keep their line breaks (white-space: pre-wrap), so the newlines
// between blocks go: they would show as blank lines.
const blocks = new Set(["ul", "ol", "blockquote", "table", "thead", "tbody", "tr"]);
function dropBlankText(node: HastNode) {
  node.children = (node.children ?? []).filter((c) => !(c.type === "text" && !c.value?.trim()));
  for (const c of node.children) if (c.tagName && blocks.has(c.tagName)) dropBlankText(c);
}
function unwrapLoneParagraph() {
  return (tree: HastNode) => {
    dropBlankText(tree);
    const kids = tree.children ?? [];
    if (kids.length === 1 && kids[0].tagName === "p") tree.children = kids[0].children ?? [];
  };
}

const components: Components = {
  a: ({ href, children }) =>
    href ? <a href={href} target="_blank" rel="noopener noreferrer nofollow">{children}</a> : <span>{children}</span>,
  img: ({ alt }) => <span>{alt ? `[${alt}]` : ""}</span>,
  h1: ({ children }) => <strong className="md-h">{children}</strong>,
  h2: ({ children }) => <strong className="md-h">{children}</strong>,
  h3: ({ children }) => <strong className="md-h">{children}</strong>,
  h4: ({ children }) => <strong className="md-h">{children}</strong>,
  h5: ({ children }) => <strong className="md-h">{children}</strong>,
  h6: ({ children }) => <strong className="md-h">{children}</strong>,
};

export function Markdown({ children, nameOf, me = "" }: { children: string; nameOf?: (id: string) => string; me?: string }): ReactNode {
  const plugins = nameOf ? [rehypeHighlight, unwrapLoneParagraph, mentionsAsNames(nameOf, me)] : [rehypeHighlight, unwrapLoneParagraph];
  return (
    <ReactMarkdown remarkPlugins={[remarkGfm]} rehypePlugins={plugins} urlTransform={safeUrl}
      skipHtml components={components}>
      {children}
    </ReactMarkdown>
  );
}
