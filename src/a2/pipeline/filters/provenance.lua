-- A source line under every figure and table of a section: its notebook,
-- its params files, the trained models it shows (cells.lua moves the keys
-- named by a2.report.source into the a2-models attribute) and the commit.
-- The renderer passes the section's record as metadata: a2-stem,
-- a2-notebook, a2-params (space separated), a2-commit. Links point into
-- the site (notebooks/, params/, the appendix's table of trained models);
-- the PDF keeps their text only.

local stringify = pandoc.utils.stringify
local rec

local function sep(inlines)
  inlines:extend{pandoc.Space(), pandoc.Str("·"), pandoc.Space()}
end

local function links(items, href)
  local out = pandoc.Inlines{}
  for i, item in ipairs(items) do
    if i > 1 then out:extend{pandoc.Str(","), pandoc.Space()} end
    out:insert(pandoc.Link(pandoc.Code(item), href(item)))
  end
  return out
end

local function words(text)
  local out = {}
  for w in (text or ""):gmatch("%S+") do out[#out + 1] = w end
  return out
end

local function line(models)
  local inl = pandoc.Inlines{pandoc.Str("Source:"), pandoc.Space()}
  inl:extend(links({rec.notebook}, function()
    return "notebooks/" .. rec.stem .. ".ipynb" end))
  if #rec.params > 0 then
    sep(inl)
    inl:extend(links(rec.params, function(p)
      return "params/" .. p:match("[^/]+$") end))
  end
  if #models > 0 then
    sep(inl)
    inl:extend{pandoc.Str("trained"), pandoc.Space(), pandoc.Str("models"),
               pandoc.Space()}
    inl:extend(links(models, function() return "#trained-models" end))
  end
  sep(inl)
  inl:extend{pandoc.Str("commit"), pandoc.Space(), pandoc.Code(rec.commit)}
  return pandoc.Div({pandoc.Plain(inl)}, pandoc.Attr("", {"provenance"}, {
    ["typst:text:size"] = "7pt", ["typst:text:fill"] = "luma(90)"}))
end

local function with_lines(blocks)
  local out = pandoc.Blocks{}
  for _, b in ipairs(blocks) do
    out:insert(b)
    if b.t == "Figure" or b.t == "Table" then
      out:insert(line(words(b.attributes["a2-models"])))
      b.attributes["a2-models"] = nil
    end
  end
  return out
end

function Pandoc(doc)
  if not doc.meta["a2-notebook"] then return nil end
  rec = {stem = stringify(doc.meta["a2-stem"]),
         notebook = stringify(doc.meta["a2-notebook"]),
         params = words(stringify(doc.meta["a2-params"] or "")),
         commit = stringify(doc.meta["a2-commit"] or "unknown")}
  return doc:walk{Blocks = with_lines}
end
