-- The project's one filter, run by Quarto (_quarto.yml) and by the
-- embedded renderer alike.
--
-- Math for Typst: pandoc writes \|x\|_2 as `parallel x parallel_2`,
-- whose subscript Typst sets under a loose bar, |x| as `\| x \|`, and a
-- vmatrix as mat(delim: "||"), which Typst rejects; here each becomes
-- norm(x)_2, abs(x) and delim: "|".
--
-- Source lines ([Source: ...]{.a2-source}, written into every figure and
-- table caption by the build) start on a line of their own in small grey
-- type. In print, their links into the site (notebooks/, params/) keep
-- their text only, and a link to another chapter's anchor becomes a link
-- inside the book.

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
  if not span.classes:includes("a2-source") then return nil end
  if not html then
    span = span:walk{Link = in_print}
    span.attributes["typst:text:size"] = "7.5pt"
    span.attributes["typst:text:fill"] = "luma(80)"
  end
  return {pandoc.LineBreak(), span}
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

local filters = {{Span = source_span}}
if FORMAT:match("typst") then
  table.insert(filters, 1, {Math = typst_math})
end
return filters
