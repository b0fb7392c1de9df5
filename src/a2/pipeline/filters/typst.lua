-- The embedded renderer's PDF: callouts (cells.lua) as a framed block
-- with a bold title, as Quarto's Typst callouts look; a folded one
-- shows its content too, since paper cannot unfold.

local function callout(div)
  if not div.classes:includes("callout") then return nil end
  local title, body = div.content[1], div.content[2]
  local out = pandoc.Blocks{pandoc.RawBlock("typst",
    "#block(width: 100%, stroke: (left: 2pt + luma(150)), " ..
    "inset: (left: 8pt, y: 4pt), breakable: true)[")}
  local heading = title.content[1].content or pandoc.Inlines{}
  out:insert(pandoc.Para{pandoc.Strong(heading)})
  out:extend(body.content)
  out:insert(pandoc.RawBlock("typst", "]"))
  return out
end

return {{Div = callout}}
