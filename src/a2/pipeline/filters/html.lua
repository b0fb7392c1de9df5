-- The embedded renderer's site: callouts (cells.lua) as HTML, a folded
-- one (collapse="true") as <details>; typst:* attributes dropped.

local function callout(div)
  if not div.classes:includes("callout") then return nil end
  local title, body = div.content[1], div.content[2]
  local cls = table.concat(div.classes, " ")
  local open, close
  if div.attributes.collapse == "true" then
    open = '<details class="' .. cls .. '"><summary>'
    close = "</details>"
  else
    open = '<div class="' .. cls .. '"><p class="callout-title">'
    close = "</div>"
  end
  local out = pandoc.Blocks{pandoc.RawBlock("html", open)}
  out:extend(title.content[1].content and
             {pandoc.Plain(title.content[1].content)} or title.content)
  out:insert(pandoc.RawBlock("html", div.attributes.collapse == "true"
                             and "</summary>" or "</p>"))
  out:extend(body.content)
  out:insert(pandoc.RawBlock("html", close))
  return out
end

local function strip_typst(el)
  local drop = {}
  for k, _ in pairs(el.attributes) do
    if k:match("^typst:") then drop[#drop + 1] = k end
  end
  if #drop == 0 then return nil end
  for _, k in ipairs(drop) do el.attributes[k] = nil end
  return el
end

return {
  {Div = callout},
  {Div = strip_typst, Span = strip_typst},
}
