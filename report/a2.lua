-- The project's one filter, run by Quarto (_quarto.yml).
--
-- Folded callouts (collapse="true") fold in the site only. In print a
-- derivation flows as ordinary text under its bold title (a callout box
-- cannot break across pages), which stays on the page of the text's first
-- lines. A list of checks (a2.report.checks) is left out of print: the
-- derivation's "Checks." paragraph says what was compared, the book's
-- preface says once that every check passed (a failing one stops the
-- build), and the appendix lists each.
--
-- Text that copies as written: Typst draws \mathcal{L} as the script
-- letter followed by a variation selector (U+FE00), which a reader
-- copying a formula out of the PDF gets too; here the letter is written
-- as its Unicode script character, drawn alike without one. A callout's
-- icon is a private-use glyph of an icon font in the text layer, so
-- print shows callouts without icons.
--
-- A paragraph that leads into a displayed equation ("..., i.e.") keeps
-- with it: a page break never falls between the two.
--
-- Math for Typst: pandoc writes \|x\|_2 as `parallel x parallel_2`,
-- whose subscript Typst sets under a loose bar, |x| as `\| x \|`, and a
-- vmatrix as mat(delim: "||"), which Typst rejects; here each becomes
-- norm(x)_2, abs(x) and delim: "|".
--
-- Text shown as written (a plain string's value, which the build escapes)
-- keeps every character in print: Typst reads `...` in text as an
-- ellipsis and `-?` as a soft hyphen, shorthands pandoc's Typst writer
-- leaves unescaped (it escapes the others); such a word is written with
-- each mark escaped. Prose "..." is an ellipsis already (pandoc's smart
-- typography), so only text meant literally reaches this.
--
-- Source lines ([Source: ...]{.a2-source}, written into every figure and
-- table caption by the build) start on a line of their own in small grey
-- type. In print, their links into the site (notebooks/, params/) keep
-- their text only, and a link to another chapter's anchor becomes a link
-- inside the book. A section's parameter line ([...]{.a2-params}) is set
-- in the same type, as the code's settings it names are a source's too.

local html = FORMAT:match("html") ~= nil

local function in_print(link)
  local t = link.target
  if t:match("^#") or t:match("^%a[%w+.-]*:") then return nil end
  local anchor = t:match("%.[%w]+#(.+)$")
  if anchor then
    link.target = "#" .. anchor
    return link
  end
  return link.content
end

local function source_span(span)
  local params = span.classes:includes("a2-params")
  if not (params or span.classes:includes("a2-source")) then return nil end
  if not html then
    -- Names in code type would print at 0.8 of the line's 7.5 pt: plain.
    span = span:walk{Link = in_print, Code = function(c)
      return pandoc.Str(c.text)
    end}
    -- A parameter line is read (the values a section ran with), a source
    -- line only looked up.
    span.attributes["typst:text:size"] = params and "8.5pt" or "7.5pt"
    span.attributes["typst:text:fill"] = "luma(80)"
  end
  -- A section's parameter line is a paragraph of its own already.
  if params then return span end
  return {pandoc.LineBreak(), span}
end

local function unfolded(title, body, classes)
  title = title or pandoc.Inlines{}
  if classes:includes("a2-checks") then return pandoc.Blocks{} end
  local head = pandoc.Para{pandoc.Strong(title)}
  local out = pandoc.Blocks{head}
  if FORMAT:match("typst") then
    -- The title is a heading to the reader: it keeps with its text.
    out = pandoc.Blocks{pandoc.RawBlock("typst", "#block(sticky: true)["),
                        head, pandoc.RawBlock("typst", "]")}
  end
  out:extend(body)
  return out
end

local function unfold_callout(c)
  if html or tostring(c.collapse) ~= "true" then return nil end
  local title, kind = c.title, pandoc.utils.type(c.title)
  if kind == "Inline" then
    title = pandoc.Inlines{title}
  elseif kind == "Block" or kind == "Blocks" then
    title = pandoc.utils.blocks_to_inlines(pandoc.Blocks(title))
  elseif kind ~= "Inlines" then
    title = nil
  end
  return unfolded(title, pandoc.Blocks(c.content), c.attr.classes)
end

-- Unicode's script letters: most in the Mathematical Alphanumeric
-- Symbols block, a few (B, E, F, H, I, L, M, R, e, g, o) in Letterlike
-- Symbols.
local SCRIPT_HOLES = {
  B = 0x212C, E = 0x2130, F = 0x2131, H = 0x210B, I = 0x2110,
  L = 0x2112, M = 0x2133, R = 0x211B, e = 0x212F, g = 0x210A, o = 0x2134,
}

local function script_letter(letter)
  local code = SCRIPT_HOLES[letter]
  if not code then
    local upper = letter:match("%u") ~= nil
    local base = upper and 0x1D49C or 0x1D4B6
    code = base + letter:byte() - (upper and 65 or 97)
  end
  return utf8.char(code)
end

local function script_letters(m)
  -- Braced, so that `\nabla\mathcal{L}` stays two symbols.
  local text, n = m.text:gsub("\\mathcal%s*{%s*(%a)%s*}", function(letter)
    return "{" .. script_letter(letter) .. "}"
  end)
  if n == 0 then return nil end
  m.text = text
  return m
end

-- Whether a block is a displayed equation alone (labelled or not).
local function displayed_equation(b)
  if b.t ~= "Para" then return false end
  local seen = false
  for _, x in ipairs(b.content) do
    if x.t == "Math" and x.mathtype == "DisplayMath" then
      seen = true
    elseif x.t == "RawInline" and x.format == "typst"
        and x.text:match("^%$ .* %$$") then  -- display math, fixed above
      seen = true
    elseif x.t == "Span" and x.identifier:match("^eq%-") then
      seen = true
    elseif x.t == "Str" and x.text:match("^{#eq%-[%w_-]+}$") then
      -- the label of `$$...$$ {#eq-x}`, still text when this runs
    elseif x.t ~= "Space" and x.t ~= "SoftBreak" then
      return false
    end
  end
  return seen
end

-- Whether a paragraph leads into the block after it: a displayed
-- equation, or a list.
local function leads_into(b, next_block)
  if b.t ~= "Para" or not next_block or displayed_equation(b) then
    return false
  end
  -- A chunk's output is a Div around what it shows: look inside.
  while next_block.t == "Div" and #next_block.content > 0 do
    next_block = next_block.content[1]
  end
  if displayed_equation(next_block) then return true end
  -- A list keeps the paragraph that introduces it.
  return next_block.t == "BulletList" or next_block.t == "OrderedList"
end

local function keep_with_equation(blocks)
  local out = pandoc.Blocks{}
  for i, b in ipairs(blocks) do
    if leads_into(b, blocks[i + 1]) then
      out:insert(pandoc.RawBlock("typst", "#block(sticky: true)["))
      out:insert(b)
      out:insert(pandoc.RawBlock("typst", "]"))
    else
      out:insert(b)
    end
  end
  return out
end

local function no_icon(c)
  c.icon = false
  return c
end

local PAR = "%f[%w.]parallel%f[^%w.]"

local function typst_math(m)
  local doc = pandoc.Pandoc({pandoc.Plain{m}})
  local text = pandoc.write(doc, "typst"):gsub("%s+$", "")
  local fixed = text:gsub('delim: "||"', 'delim: "|"')
    :gsub(PAR .. " ([^$,;]-) " .. PAR, "norm(%1)")
    :gsub(PAR, "bar.v.double")
    :gsub("\\| ([^$,;|]-) \\|", "abs(%1)")
  if fixed == text then return nil end
  return pandoc.RawInline("typst", fixed)
end

local function typst_literal(str)
  if not (str.text:find("...", 1, true) or str.text:find("-?", 1, true)) then
    return nil
  end
  return pandoc.RawInline("typst", (str.text:gsub("%p", "\\%0")))
end

-- A labelled equation ($$...$$ {#eq-x}, a Span#eq-x around the Math
-- under Quarto) stays Math: Quarto numbers it and resolves references.
local math_fixes = {
  traverse = "topdown",
  Span = function(span)
    if span.identifier:match("^eq%-") then return nil, false end
  end,
  Math = typst_math,
}

-- In print the appendices open with their first chapter: the divider
-- heading that Quarto's Typst book (orange-book) would set alone on a
-- page becomes only the switch to appendix numbering, as orange-book
-- writes it.
local function appendix_divider(h)
  local f = (quarto.doc.file_metadata() or {}).file
  if h.level ~= 1 or not f or f.bookItemType ~= "appendix" then
    return nil
  end
  return pandoc.RawBlock(
    "typst", '#show: appendices.with("Appendices", hide-parent: true)')
end

local filters = {{Callout = unfold_callout}, {Span = source_span}}
if FORMAT:match("typst") then
  table.insert(filters, 1, math_fixes)
  table.insert(filters, 1, {Math = script_letters})
  table.insert(filters, {Str = typst_literal})
  -- After the derivations are unfolded: their paragraphs are blocks then.
  table.insert(filters, {Blocks = keep_with_equation})
  table.insert(filters, {Callout = no_icon})
  table.insert(filters, quarto.utils.combineFilters{
    quarto.utils.file_metadata_filter(), {Header = appendix_divider}})
end
return filters
