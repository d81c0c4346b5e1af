import { describe, expect, test } from "vitest";
import { renderMarkdown } from "./render-markdown";

describe("renderMarkdown", () => {
  test("renders Markdown", () => {
    const html = renderMarkdown("# Title\n\n- **bold** and `code`\n- [link](https://example.com)");
    expect(html).toContain("<h1>Title</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain('<a href="https://example.com">link</a>');
  });

  test("escapes the model's own HTML instead of passing it on", () => {
    const html = renderMarkdown(
      '<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\nx <b onclick="alert(3)">y</b>',
    );
    expect(html).not.toMatch(/<script|<img|<b /);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("&lt;img src=x onerror=&quot;alert(2)&quot;&gt;");
  });

  test("drops links that would run script", () => {
    for (const url of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "vbscript:x",
      "data:text/html,<script>",
    ]) {
      expect(renderMarkdown(`[click](${url})`), url).not.toContain("<a ");
    }
  });
});
