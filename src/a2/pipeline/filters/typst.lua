-- PDF only: source lines keep the text of links into the HTML site
-- (notebooks/, params/), which mean nothing in a PDF.
function Div(div)
  if div.classes:includes("provenance") then
    return div:walk{Link = function(link)
      if not link.target:match("^#") then return link.content end
    end}
  end
end
