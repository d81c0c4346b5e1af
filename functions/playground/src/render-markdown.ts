import MarkdownIt from "markdown-it";

// `html: false` escapes every raw HTML tag the model writes; markdown-it's link validation
// drops `javascript:`, `vbscript:`, `file:` and non-image `data:` URLs. The page's CSP is the
// second wall (no inline script, no foreign image).
const markdown = new MarkdownIt({ html: false, linkify: false, typographer: false });

/** The model's Markdown as HTML that carries no markup of the model's own. */
export function renderMarkdown(text: string): string {
  return markdown.render(text);
}
