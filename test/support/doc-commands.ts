/*
 * The shell commands of a markdown page, as a reader copies them: its fenced bash blocks, split
 * into commands (a line continued with a backslash, a quoted string, a here-document or a loop
 * spanning lines is one command), so a test can play the page's own commands rather than copies.
 */

export interface PageCommand {
  /** The command as the page writes it, comments and line breaks included. */
  text: string;
  /** Its first line's number on the page (1-based). */
  line: number;
}

const shellFences = new Set(['bash', 'sh', 'shell', 'console']);

/** The fenced blocks of `markdown` marked as shell, with the page line of each block's first line. */
export function shellBlocks(markdown: string): Array<{ text: string; line: number }> {
  const blocks: Array<{ text: string; line: number }> = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index += 1) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[index] as string);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let close = index + 1;
    for (; close < lines.length && !(lines[close] as string).trim().startsWith(fence); close += 1) {
      const line = lines[close] as string;
      // A block inside a list item is indented with it.
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    if (shellFences.has(info.toLowerCase())) blocks.push({ text: body.join('\n'), line: index + 2 });
    index = close;
  }
  return blocks;
}

const openers = new Set(['for', 'while', 'until', 'if', 'case']);
const closers = new Set(['done', 'fi', 'esac']);

/**
 * Splits a block into commands. Enough of the shell's grammar for a manual's commands: quotes
 * (single, double, with backslash escapes in double), comments, backslash-newline continuations,
 * here-documents, and compound commands (for/while/until/if/case ... done/fi/esac).
 */
export function splitCommands(block: string, firstLine = 1): PageCommand[] {
  const commands: PageCommand[] = [];
  const lines = block.split('\n');
  let current: string[] = [];
  let startLine = firstLine;
  let quote: "'" | '"' | undefined;
  let depth = 0;
  let heredoc: string | undefined;
  lines.forEach((line, index) => {
    if (current.length === 0) {
      if (line.trim() === '' || (line.trim().startsWith('#') && !quote)) return;
      startLine = firstLine + index;
    }
    current.push(line);
    if (heredoc !== undefined) {
      if (line.replace(/^\t+/, '') === heredoc) heredoc = undefined;
    } else {
      let word = '';
      let commandPosition = true;
      const endWord = () => {
        if (word && commandPosition && !quote) {
          if (openers.has(word)) depth += 1;
          else if (closers.has(word)) depth -= 1;
        }
        commandPosition = ['do', 'then', 'else', 'elif', '!'].includes(word) ? true : word ? false : commandPosition;
        word = '';
      };
      for (let at = 0; at < line.length; at += 1) {
        const char = line[at] as string;
        if (quote === "'") {
          if (char === "'") quote = undefined;
          continue;
        }
        if (quote === '"') {
          if (char === '\\') at += 1;
          else if (char === '"') quote = undefined;
          continue;
        }
        if (char === '\\') {
          word += line.slice(at, at + 2);
          at += 1;
        } else if (char === "'" || char === '"') {
          quote = char;
          word += char;
        } else if (char === '#' && word === '') {
          break;
        } else if (/\s/.test(char)) {
          endWord();
        } else if (';&|()'.includes(char)) {
          endWord();
          commandPosition = true;
        } else if (char === '<' && line[at + 1] === '<' && line[at + 2] !== '<') {
          endWord();
          const marker = /^<<-?\s*(['"]?)(\w+)\1/.exec(line.slice(at));
          if (marker) {
            heredoc = marker[2];
            at += marker[0].length - 1;
          }
        } else {
          word += char;
        }
      }
      endWord();
    }
    const continued = !quote && heredoc === undefined && /(^|[^\\])(\\\\)*\\$/.test(line);
    if (!quote && heredoc === undefined && depth === 0 && !continued) {
      commands.push({ text: current.join('\n'), line: startLine });
      current = [];
    }
  });
  if (current.length > 0) {
    throw new Error(`line ${startLine}: a command is not closed (an open quote, loop or here-document): ${current.join('\n')}`);
  }
  return commands;
}

/** Every shell command of the page, in page order. */
export function pageCommands(markdown: string): PageCommand[] {
  return shellBlocks(markdown).flatMap((block) => splitCommands(block.text, block.line));
}
