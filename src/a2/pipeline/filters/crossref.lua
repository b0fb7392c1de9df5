-- The embedded renderer's stand-in for Quarto's numbering, over the whole
-- book (one Div.chapter per chapter, in order):
--
-- * chapters are numbered 1, 2, ... and appendices A, B, ...; a heading
--   of level k gets the chapter's number and its counters ("1.2.1"), as
--   Quarto's number-sections does; {.unnumbered} headings get none;
-- * figures, tables and display equations are numbered per chapter
--   ("Figure 4.1: ", "Table 5.2: ", "(1.3)");
-- * @fig-x, @tbl-x, @eq-x and @sec-x become links ("Figure 4.1").

local refs = {}  -- id -> text of a reference to it

local KIND = {fig = "Figure", tbl = "Table", eq = "Equation",
              sec = "Section"}

local function letter(n)
  return string.char(string.byte("A") + n - 1)
end

local function unnumbered(el)
  return el.classes:includes("unnumbered") or el.classes:includes("-")
end

local function prefix(inlines, text)
  local out = pandoc.Inlines{pandoc.Str(text), pandoc.Space()}
  out:extend(inlines)
  return out
end

local function caption_prefix(caption, text)
  local long = caption.long
  if #long == 0 then
    caption.long = pandoc.Blocks{pandoc.Plain{pandoc.Str(text)}}
  elseif long[1].content then
    long[1].content = prefix(long[1].content, text)
  end
  return caption
end

-- Every display equation is numbered, as Quarto's Typst book numbers
-- them; "$$x$$ {#eq-y}" (read as Math, Space, Str "{#eq-y}") can be
-- referred to.
local function equations(para, chap, count)
  local c = para.content
  for i = 1, #c do
    local m = c[i]
    if m.t == "Math" and m.mathtype == "DisplayMath" then
      count.eq = count.eq + 1
      local n = chap .. "." .. count.eq
      m.text = m.text .. " \\qquad (" .. n .. ")"
      local j = i + 1
      if c[j] and (c[j].t == "Space" or c[j].t == "SoftBreak") then
        j = j + 1
      end
      local id = c[j] and c[j].t == "Str"
                 and c[j].text:match("^{#(eq%-[%w_-]+)}$")
      if id then
        refs[id] = "Equation (" .. n .. ")"
        c[j] = pandoc.Span({}, pandoc.Attr(id))
        if j == i + 2 then c[i + 1] = pandoc.Str("") end
      end
    end
  end
  return para
end

-- A callout's heading is its title, not a section (callouts.lua).
local function callout_titles(div)
  return div:walk{Div = function(d)
    for _, c in ipairs(d.classes) do
      if c:match("^callout%-") then
        return d:walk{Header = function(h)
          h.classes:insert("unnumbered")
          return h
        end}
      end
    end
  end}
end

local function number_chapter(div, numbers)
  div = callout_titles(div)
  local chap
  local first = nil
  div:walk{Header = function(h) first = first or h end}
  if div.classes:includes("appendix") then
    numbers.appendix = numbers.appendix + 1
    chap = letter(numbers.appendix)
  elseif first and first.level == 1 and not unnumbered(first) then
    numbers.chapter = numbers.chapter + 1
    chap = tostring(numbers.chapter)
  end
  if not chap then return div end
  local levels = {0, 0, 0, 0, 0, 0}
  local count = {fig = 0, tbl = 0, eq = 0}
  return div:walk{
    Header = function(h)
      if unnumbered(h) then return nil end
      local n = chap
      if h.level > 1 then
        levels[h.level] = levels[h.level] + 1
        for k = h.level + 1, #levels do levels[k] = 0 end
        for k = 2, h.level do n = n .. "." .. levels[k] end
      end
      if h.identifier ~= "" then refs[h.identifier] = "Section " .. n end
      local number = pandoc.Span({pandoc.Str(n)},
                                 {class = "header-section-number"})
      h.content = pandoc.Inlines{number, pandoc.Space()} .. h.content
      h.attributes["number"] = n
      return h
    end,
    Figure = function(f)
      count.fig = count.fig + 1
      local n = chap .. "." .. count.fig
      if f.identifier ~= "" then refs[f.identifier] = "Figure " .. n end
      f.caption = caption_prefix(f.caption, "Figure " .. n .. ":")
      return f
    end,
    Table = function(t)
      if #t.caption.long == 0 then return nil end  -- layout, not a table
      count.tbl = count.tbl + 1
      local n = chap .. "." .. count.tbl
      if t.identifier ~= "" then refs[t.identifier] = "Table " .. n end
      t.caption = caption_prefix(t.caption, "Table " .. n .. ":")
      return t
    end,
    Para = function(p) return equations(p, chap, count) end,
  }
end

local function is_ref(cite)
  for _, c in ipairs(cite.citations) do
    local kind = c.id:match("^(%a+)%-")
    if not KIND[kind or ""] then return false end
  end
  return true
end

local function resolve(cite)
  if not is_ref(cite) then return nil end
  local out = pandoc.Inlines{}
  for i, c in ipairs(cite.citations) do
    if i > 1 then out:insert(pandoc.Str(", ")) end
    local text = refs[c.id]
    if text then
      local words = pandoc.Inlines{}
      for w in text:gmatch("%S+") do
        if #words > 0 then words:insert(pandoc.Space()) end
        words:insert(pandoc.Str(w))
      end
      out:insert(pandoc.Link(words, "#" .. c.id))
    else
      io.stderr:write("warning: unknown cross-reference @" .. c.id .. "\n")
      out:insert(pandoc.Strong{pandoc.Str("?@" .. c.id)})
    end
  end
  return out
end

function Pandoc(doc)
  local numbers = {chapter = 0, appendix = 0}
  local blocks = pandoc.Blocks{}
  for _, b in ipairs(doc.blocks) do
    if b.t == "Div" and b.classes:includes("chapter") then
      b = number_chapter(b, numbers)
    end
    blocks:insert(b)
  end
  doc.blocks = blocks
  return doc:walk{Cite = resolve}
end
